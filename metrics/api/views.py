"""The metrics endpoints. Each: parse into a validated query → one cached call → render."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import principal_of
from accounts.scopes import METRICS_QUERY, METRICS_READ
from metrics.api import serializers as s
from metrics.api.caching import cached, etag_matches
from metrics.api.renderers import CSVRenderer, ExactJSONRenderer, csv_table
from metrics.query import catalog
from metrics.query.parse import query_from_body, query_from_params
from metrics.query.runner import run_query
from metrics.query.spec import MetricsQuery, QueryValidationError
from metrics.query.summary import PERIOD_FIELDS, summarize
from metrics.query.summary_params import summary_from_params
from metrics.sketch import RELATIVE_ACCURACY
from observatory import errors
from observatory.openapi import ERROR_RESPONSES


def validated(parse: Callable[[], Any]) -> Any:
    """Runs a parser; its QueryValidationError becomes the 400 envelope with every detail."""
    try:
        return parse()
    except QueryValidationError as exc:
        message = errors.validation_message(exc.details)
        raise errors.ApiError(
            status_code=400, code=errors.VALIDATION_ERROR, message=message, details=exc.details
        ) from exc


class MetricsBaseView(APIView):
    renderer_classes = [ExactJSONRenderer, CSVRenderer]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        # DRF leaves the response on the view, and the view is in a reference cycle with its
        # request (request.parser_context["view"]): the body, megabytes for a long series, then
        # lived until the garbage collector next visited that generation. Over 300 of S2's answers
        # (6,000 rows, ~2 MB each) on 3 workers, RSS peaked at 139-158 MB; 107-108 MB let go here.
        self.response = None  # type: ignore[assignment]
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if response.status_code >= 400:  # errors are always the JSON envelope, whatever was accepted
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def answer(
        self,
        request: Request,
        kind: str,
        identity: tuple[Any, ...],
        compute: Callable[[], dict[str, Any]],
        to_csv: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Response | HttpResponse:
        answer = cached(kind, identity, compute)
        is_csv = getattr(request.accepted_renderer, "format", "") == "csv"
        etag = answer.etag[:-1] + '-csv"' if is_csv else answer.etag
        headers = {
            "ETag": etag,
            "X-Cache": "HIT" if answer.hit else "MISS",
            "Cache-Control": f"private, max-age={settings.CACHE_DEFAULT_TTL}",
            "Vary": "Accept, Authorization, X-API-Key",
        }
        if etag_matches(request.headers.get("If-None-Match"), etag):
            return Response(status=304, headers=headers)
        if is_csv:
            # Rendered here like the JSON: a DRF Response refers to itself once rendered
            # (renderer_context["response"]), so its body would wait for the garbage collector.
            csv = CSVRenderer().render({"_csv": to_csv(answer.load_payload())})
            return HttpResponse(csv, content_type=f"{CSVRenderer.media_type}; charset=utf-8", headers=headers)
        return HttpResponse(answer.json, content_type="application/json", headers=headers)


def _org_id(request: Request) -> int:
    return principal_of(request).organization_id


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _answer(query: MetricsQuery, describe: Callable[[MetricsQuery, Any, int], dict[str, Any]]) -> dict[str, Any]:
    result = run_query(query)
    rows = result.rows
    common = {
        "interval": query.interval.name if query.interval else None,
        "timezone": query.timezone,
        "start_time": _utc(query.start),
        "end_time": _utc(query.end),
    }
    return {"metadata": common | describe(query, result, len(rows)), "data": rows}


def series_payload(query: MetricsQuery) -> dict[str, Any]:
    """The metadata of the seed design's GET /metrics."""
    return _answer(
        query,
        lambda q, result, count: {
            "metrics": [r.alias for r in q.metrics],
            "units": result.units,
            "group_by": [d.name for d in q.group_by],
            "data_source": result.data_source,
            "total_points": count,
            "truncated": result.truncated,
        },
    )


def _series_csv(query: MetricsQuery) -> Callable[[dict[str, Any]], dict[str, Any]]:
    dims = [d.name for d in query.group_by]
    return lambda payload: csv_table(
        payload["data"], dims, [r.alias for r in query.metrics], timestamp=query.interval is not None
    )


SERIES_EXAMPLE = {
    "metadata": {
        "interval": "1hour",
        "timezone": "UTC",
        "start_time": "2026-11-25T10:00:00Z",
        "end_time": "2026-11-26T10:00:00Z",
        "metrics": ["request_count", "total_cost"],
        "units": {"request_count": "requests", "total_cost": "usd"},
        "group_by": ["provider"],
        "data_source": "aggregate_1hour",
        "total_points": 1,
        "truncated": False,
    },
    "data": [{"timestamp": "2026-11-25T10:00:00Z", "provider": "openai", "request_count": 1500, "total_cost": 45.3}],
}


class MetricsSeriesView(MetricsBaseView):
    """GET /api/v1/metrics: a time series per group."""

    required_permissions = {"GET": METRICS_READ}

    @extend_schema(
        tags=["metrics"],
        summary="Time series of metrics",
        description=s.CATALOG_DESCRIPTION,
        parameters=s.SERIES_PARAMETERS,
        responses={200: s.SeriesResponse, 304: None, **ERROR_RESPONSES},
        examples=[OpenApiExample("Requests and cost per provider", value=SERIES_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = validated(lambda: query_from_params(request.query_params, org_id=_org_id(request)))
        return self.answer(request, "series", query.cache_identity(), lambda: series_payload(query), _series_csv(query))


def query_payload(query: MetricsQuery) -> dict[str, Any]:
    """The metadata of the seed design's POST /metrics/query."""
    return _answer(
        query,
        lambda q, result, count: {
            "group_by": [d.name for d in q.group_by],
            "filters_applied": len(q.filters),
            "having_conditions": len(q.having),
            "units": result.units,
            "data_source": result.data_source,
            "total_rows": count,
            "truncated": result.truncated,
        },
    )


QUERY_EXAMPLE = {
    "metrics": [
        {"metric": "request_count", "aggregation": "sum", "alias": "total_requests"},
        {"metric": "duration", "aggregation": "p95", "alias": "p95_duration"},
        {"metric": "total_cost", "aggregation": "sum", "alias": "total_cost"},
    ],
    "interval": "1day",
    "start_time": "2026-11-01T00:00:00Z",
    "end_time": "2026-11-26T00:00:00Z",
    "group_by": ["provider", "model"],
    "filters": [
        {"dimension": "provider", "operator": "in", "value": ["openai", "anthropic"]},
        {"dimension": "environment", "operator": "eq", "value": "production"},
    ],
    "having": [{"metric": "request_count", "aggregation": "sum", "operator": "gte", "value": 100}],
    "sort_by": {"field": "total_cost", "descending": True},
    "limit": 100,
}


QUERY_RESPONSE_EXAMPLE = {
    "metadata": {
        "interval": "1day",
        "timezone": "UTC",
        "start_time": "2026-11-01T00:00:00Z",
        "end_time": "2026-11-26T00:00:00Z",
        "group_by": ["provider", "model"],
        "filters_applied": 2,
        "having_conditions": 1,
        "units": {"total_requests": "requests", "p95_duration": "ms", "total_cost": "usd"},
        "data_source": "aggregate_1day",
        "total_rows": 1,
        "truncated": False,
    },
    "data": [
        {
            "timestamp": "2026-11-25T00:00:00Z",
            "provider": "openai",
            "model": "gpt-4o",
            "total_requests": 1500,
            "p95_duration": 4210.5,
            "total_cost": 45.3,
        }
    ],
}
SUMMARY_EXAMPLE = {
    "current_period": {
        "start_time": "2026-11-25T10:00:00Z",
        "end_time": "2026-11-26T10:00:00Z",
        "total_requests": 50000,
        "total_cost_usd": 1250.5,
        "total_tokens": 25000000,
        "avg_duration_ms": 1250.5,
        "p95_duration_ms": 4100.2,
        "error_rate": 0.02,
        "success_rate": 0.98,
        "unique_users": 1200,
        "unique_sessions": 3500,
    },
    "previous_period": None,
    "changes": {
        "requests_change_pct": None,
        "cost_change_pct": None,
        "duration_change_pct": None,
        "error_rate_change_pct": None,
    },
    "top_items": {
        "by_cost": [{"provider": "openai", "model": "gpt-4o", "value": 800.25, "percentage": 64.0}],
        "by_requests": [{"provider": "openai", "model": "gpt-4o-mini", "value": 30000, "percentage": 60.0}],
        "by_duration": [{"provider": "anthropic", "model": "claude-sonnet-4", "value": 2600.0, "percentage": 41.6}],
        "by_errors": [{"provider": "openai", "model": "gpt-4o", "value": 800, "percentage": 80.0}],
    },
    "quality": {
        "error_count": 1000,
        "success_count": 49000,
        "error_rate": 0.02,
        "success_rate": 0.98,
        "most_common_errors": [
            {
                "status_code": "ERROR",
                "error_type": "RateLimitError",
                "count": 800,
                "percentage": 80.0,
                "sample_message": "Rate limit exceeded",
            }
        ],
    },
}


class MetricsQueryView(MetricsBaseView):
    """POST /api/v1/metrics/query: custom aggregations, filters, HAVING, sort and limit."""

    required_permissions = {"POST": METRICS_QUERY}

    @extend_schema(
        tags=["metrics"],
        summary="Custom metrics query",
        description=s.CATALOG_DESCRIPTION,
        request=s.QueryRequest,
        responses={200: s.QueryResponse, 304: None, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Top models by cost", value=QUERY_EXAMPLE, request_only=True),
            OpenApiExample("Answer", value=QUERY_RESPONSE_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response | HttpResponse:
        query = validated(lambda: query_from_body(request.data, org_id=_org_id(request)))
        return self.answer(request, "query", query.cache_identity(), lambda: query_payload(query), _series_csv(query))


def _summary_csv(payload: dict[str, Any]) -> dict[str, Any]:
    periods = [{"period": "current", **payload["current_period"]}]
    if payload["previous_period"]:
        periods.append({"period": "previous", **payload["previous_period"]})
    return {"columns": ["period", "start_time", "end_time", *PERIOD_FIELDS[0:]], "rows": periods}


class MetricsSummaryView(MetricsBaseView):
    """GET /api/v1/metrics/summary: totals, the previous period, changes, top items, quality."""

    required_permissions = {"GET": METRICS_READ}

    @extend_schema(
        tags=["metrics"],
        summary="Summary with period comparison",
        description=(
            "Totals of the period (default: the last 24 hours) and of the equally long period before it, "
            "changes in percent (null where the previous value is 0), the top providers/models by cost, "
            "requests, average duration (percentage: share of the time spent) and errors, and the most "
            f"common errors. {s.PERCENTILE_NOTE}"
        ),
        parameters=s.SUMMARY_PARAMETERS,
        responses={200: s.SummaryResponse, 304: None, **ERROR_RESPONSES},
        examples=[OpenApiExample("Last 24 hours", value=SUMMARY_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response | HttpResponse:
        summary = validated(lambda: summary_from_params(request.query_params, org_id=_org_id(request)))
        return self.answer(request, "summary", summary.cache_identity(), lambda: summarize(summary), _summary_csv)


def catalog_payload() -> dict[str, Any]:
    return {
        "metrics": [
            {
                "name": m.name,
                "unit": m.unit,
                "kind": m.kind,
                "aggregations": list(m.aggregations),
                "default_aggregation": m.default_aggregation,
                "description": m.description,
            }
            for m in catalog.METRICS.values()
        ],
        "aggregations": list(catalog.AGGREGATIONS),
        "dimensions": [
            {"name": d.name, "in_rollups": d.in_rollups, "description": d.description}
            for d in catalog.DIMENSIONS.values()
        ],
        "intervals": list(catalog.INTERVAL_CHOICES),
        "operators": {"filter": list(catalog.FILTER_OPERATORS), "having": list(catalog.HAVING_OPERATORS)},
        "units": list(catalog.UNITS),
        "limits": catalog.limits(),
        "percentile_relative_error": RELATIVE_ACCURACY,
    }


class MetricsSchemaView(APIView):
    """GET /api/v1/metrics/schema: the catalog itself."""

    required_permissions = {"GET": METRICS_READ}
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        tags=["metrics"],
        summary="The metrics catalog",
        description="Metrics with units and valid aggregations, dimensions, intervals, operators and limits.",
        responses={200: OpenApiTypes.OBJECT, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        return Response(catalog_payload())
