"""OpenAPI shapes of the metrics endpoints, generated from the catalog (enums, descriptions)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from metrics.query import catalog
from metrics.query.parse import GET_FILTER_PARAMS, INCLUDED_PERCENTILES
from metrics.sketch import RELATIVE_ACCURACY

METRIC_NAMES = list(catalog.METRICS)
DIMENSION_NAMES = list(catalog.DIMENSIONS)


def _metric_table() -> str:
    lines = ["| metric | unit | aggregations (default first) |", "|---|---|---|"]
    for metric in catalog.METRICS.values():
        aggregations = (
            "computed"
            if metric.computed
            else ", ".join(
                [metric.default_aggregation or "", *(a for a in metric.aggregations if a != metric.default_aggregation)]
            )
        )
        lines.append(f"| `{metric.name}` | {metric.unit} | {aggregations} |")
    return "\n".join(lines)


PERCENTILE_NOTE = (
    f"Percentiles (p50 … p999) come from mergeable sketches with at most {RELATIVE_ACCURACY:.2%} relative error "
    "when the rollups answer, and exactly (nearest rank, like percentile_disc) when raw spans do "
    "(`metadata.data_source` = `raw`)."
)
CATALOG_DESCRIPTION = f"{_metric_table()}\n\n{PERCENTILE_NOTE}"

TIME_PARAMETERS = [
    OpenApiParameter(
        "start_time",
        OpenApiTypes.DATETIME,
        description="Inclusive; ISO 8601, no offset means UTC. Default: end - 24 h.",
    ),
    OpenApiParameter(
        "end_time", OpenApiTypes.DATETIME, description="Exclusive. Default: now, rounded up to the next minute."
    ),
]
FILTER_PARAMETERS = [
    OpenApiParameter(name, str, description=f"Only spans whose {name} is one of these (comma list).")
    for name in GET_FILTER_PARAMS
]
SERIES_PARAMETERS = [
    OpenApiParameter(
        "metrics", str, required=True, description=f"Comma list of: {', '.join(METRIC_NAMES)}.", explode=False
    ),
    OpenApiParameter(
        "interval",
        str,
        enum=list(catalog.INTERVAL_CHOICES),
        default="1hour",
        description="Bucket width; `auto` picks the finest giving at most 300 buckets.",
    ),
    *TIME_PARAMETERS,
    *FILTER_PARAMETERS,
    OpenApiParameter("group_by", str, description=f"Comma list of: {', '.join(DIMENSION_NAMES)} (at most 5)."),
    OpenApiParameter(
        "aggregation",
        str,
        enum=list(catalog.AGGREGATIONS),
        description="For latency, cost and token metrics; each must accept it.",
    ),
    OpenApiParameter(
        "include_percentiles",
        bool,
        default=False,
        description=f"Adds {', '.join(f'duration_{p}' for p in INCLUDED_PERCENTILES)}.",
    ),
    OpenApiParameter("fill", str, enum=["none", "zero"], default="none", description="`zero`: emit empty buckets too."),
    OpenApiParameter(
        "timezone",
        str,
        default="UTC",
        description="IANA name; aligns day, week (Monday) and month buckets to local midnight.",
    ),
    OpenApiParameter("limit", int, description="At most this many rows (≤ 10000); `metadata.truncated` says if cut."),
    OpenApiParameter("format", str, enum=["json", "csv"], description="`csv` is the same as `Accept: text/csv`."),
]
SUMMARY_PARAMETERS = [
    *TIME_PARAMETERS,
    *[p for p in FILTER_PARAMETERS if p.name in ("provider", "model", "environment")],
    OpenApiParameter("compare_previous_period", bool, default=True),
    OpenApiParameter("top_n", int, default=5, description="Items per top list (1 to 50)."),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


def Row() -> serializers.DictField:  # noqa: N802 - reads as a field declaration
    return serializers.DictField(
        help_text="One bucket × group: `timestamp` (bucket start, in the requested time zone), the grouped "
        "dimensions, then one key per metric (its alias)."
    )


SeriesResponse = inline_serializer(
    name="MetricsSeriesResponse",
    fields={
        "metadata": inline_serializer(
            name="MetricsSeriesMetadata",
            fields={
                "interval": serializers.ChoiceField(choices=list(catalog.INTERVALS)),
                "timezone": serializers.CharField(),
                "start_time": serializers.DateTimeField(),
                "end_time": serializers.DateTimeField(),
                "metrics": serializers.ListField(child=serializers.CharField()),
                "units": serializers.DictField(child=serializers.ChoiceField(choices=list(catalog.UNITS))),
                "group_by": serializers.ListField(child=serializers.ChoiceField(choices=catalog.DIMENSION_CHOICES)),
                "data_source": serializers.ChoiceField(
                    choices=["aggregate_1min", "aggregate_1hour", "aggregate_1day", "raw"]
                ),
                "total_points": serializers.IntegerField(),
                "truncated": serializers.BooleanField(),
            },
        ),
        "data": serializers.ListField(child=Row()),
    },
)

MetricItem = inline_serializer(
    name="QueryMetric",
    fields={
        "metric": serializers.ChoiceField(choices=catalog.METRIC_CHOICES),
        "aggregation": serializers.ChoiceField(choices=catalog.AGGREGATION_CHOICES, required=False),
        "alias": serializers.RegexField(r"^[a-z_][a-z0-9_]{0,62}$", required=False),
    },
)
QueryRequest = inline_serializer(
    name="MetricsQueryRequest",
    fields={
        "metrics": serializers.ListField(child=MetricItem),
        "interval": serializers.ChoiceField(
            choices=list(catalog.INTERVAL_CHOICES),
            allow_null=True,
            required=False,
            help_text="null: one row per group over the whole range.",
        ),
        "start_time": serializers.DateTimeField(),
        "end_time": serializers.DateTimeField(),
        "timezone": serializers.CharField(required=False, default="UTC"),
        "group_by": serializers.ListField(
            child=serializers.ChoiceField(choices=catalog.DIMENSION_CHOICES), required=False
        ),
        "filters": serializers.ListField(
            required=False,
            child=inline_serializer(
                name="QueryFilter",
                fields={
                    "dimension": serializers.ChoiceField(choices=catalog.DIMENSION_CHOICES),
                    "operator": serializers.ChoiceField(choices=list(catalog.FILTER_OPERATORS)),
                    "value": serializers.JSONField(help_text="A string, or a list of strings for in/not_in."),
                },
            ),
        ),
        "having": serializers.ListField(
            required=False,
            child=inline_serializer(
                name="QueryHaving",
                fields={
                    "metric": serializers.ChoiceField(choices=catalog.METRIC_CHOICES),
                    "aggregation": serializers.ChoiceField(choices=catalog.AGGREGATION_CHOICES, required=False),
                    "operator": serializers.ChoiceField(choices=list(catalog.HAVING_OPERATORS)),
                    "value": serializers.FloatField(),
                },
            ),
        ),
        "sort_by": inline_serializer(
            name="QuerySort",
            required=False,
            fields={
                "field": serializers.CharField(help_text="An alias, a metric, a grouped dimension or timestamp."),
                "descending": serializers.BooleanField(default=False),
            },
        ),
        "limit": serializers.IntegerField(min_value=1, max_value=10_000, default=1000),
        "fill": serializers.ChoiceField(choices=["none", "zero"], required=False),
    },
)
QueryResponse = inline_serializer(
    name="MetricsQueryResponse",
    fields={
        "metadata": inline_serializer(
            name="MetricsQueryMetadata",
            fields={
                "interval": serializers.CharField(allow_null=True),
                "timezone": serializers.CharField(),
                "start_time": serializers.DateTimeField(),
                "end_time": serializers.DateTimeField(),
                "group_by": serializers.ListField(child=serializers.CharField()),
                "filters_applied": serializers.IntegerField(),
                "having_conditions": serializers.IntegerField(),
                "units": serializers.DictField(child=serializers.CharField()),
                "data_source": serializers.CharField(),
                "total_rows": serializers.IntegerField(),
                "truncated": serializers.BooleanField(),
            },
        ),
        "data": serializers.ListField(child=Row()),
    },
)

_PERIOD_FIELDS: dict[str, serializers.Field] = {
    "start_time": serializers.DateTimeField(),
    "end_time": serializers.DateTimeField(),
    "total_requests": serializers.IntegerField(),
    "total_cost_usd": serializers.DecimalField(max_digits=30, decimal_places=10),
    "total_tokens": serializers.IntegerField(),
    "avg_duration_ms": serializers.FloatField(allow_null=True),
    "p95_duration_ms": serializers.FloatField(allow_null=True),
    "error_rate": serializers.FloatField(allow_null=True),
    "success_rate": serializers.FloatField(allow_null=True),
    "unique_users": serializers.IntegerField(),
    "unique_sessions": serializers.IntegerField(),
}


class SummaryTopItem(serializers.Serializer):
    provider = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    value = serializers.FloatField()
    percentage = serializers.FloatField()


SummaryResponse = inline_serializer(
    name="MetricsSummaryResponse",
    fields={
        "current_period": inline_serializer(name="SummaryPeriod", fields=_PERIOD_FIELDS),
        "previous_period": inline_serializer(name="SummaryPreviousPeriod", fields=_PERIOD_FIELDS, allow_null=True),
        "changes": inline_serializer(
            name="SummaryChanges",
            fields={
                name: serializers.FloatField(allow_null=True)
                for name in ("requests_change_pct", "cost_change_pct", "duration_change_pct", "error_rate_change_pct")
            },
        ),
        "top_items": inline_serializer(
            name="SummaryTopItems",
            fields={name: SummaryTopItem(many=True) for name in ("by_cost", "by_requests", "by_duration", "by_errors")},
        ),
        "quality": inline_serializer(
            name="SummaryQuality",
            fields={
                "error_count": serializers.IntegerField(),
                "success_count": serializers.IntegerField(),
                "error_rate": serializers.FloatField(allow_null=True),
                "success_rate": serializers.FloatField(allow_null=True),
                "most_common_errors": serializers.ListField(
                    child=inline_serializer(
                        name="SummaryError",
                        fields={
                            "status_code": serializers.CharField(),
                            "error_type": serializers.CharField(),
                            "count": serializers.IntegerField(),
                            "percentage": serializers.FloatField(),
                            "sample_message": serializers.CharField(allow_null=True),
                        },
                    )
                ),
            },
        ),
    },
)
