"""From request input (GET query parameters or a POST body) to a validated MetricsQuery."""

from datetime import UTC, datetime
from typing import Any

from metrics.query import catalog
from metrics.query.catalog import Dimension
from metrics.query.spec import (
    MSG_SORT_FIELD,
    MSG_TOO_MANY,
    MSG_UNKNOWN,
    Filter,
    Having,
    MetricRequest,
    MetricsQuery,
    Problems,
    Sort,
    check_aliases,
    parse_decimal,
    parse_dimensions,
    parse_filter,
    parse_interval,
    parse_limit,
    parse_metric,
    parse_range,
    parse_timezone,
    valid_list,
)

GET_FILTER_PARAMS = ("provider", "model", "environment", "status_code", "user_id", "session_id")
GET_PARAMS = frozenset(
    {
        "metrics",
        "interval",
        "start_time",
        "end_time",
        "group_by",
        "aggregation",
        "include_percentiles",
        "fill",
        "timezone",
        "limit",
        "format",
        *GET_FILTER_PARAMS,
    }
)
INCLUDED_PERCENTILES = ("p50", "p90", "p95", "p99")
BODY_KEYS = frozenset(
    {
        "metrics",
        "interval",
        "start_time",
        "end_time",
        "timezone",
        "group_by",
        "filters",
        "having",
        "sort_by",
        "limit",
        "fill",
    }
)
BOOLEAN_TRUE = ("1", "true", "yes", "on")
BOOLEAN_FALSE = ("0", "false", "no", "off", "")


def comma_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def refuse_unknown_keys(keys: Any, allowed: frozenset[str], problems: Problems, where: str) -> None:
    for key in keys:
        if key not in allowed:
            problems.add(
                where or key,
                MSG_UNKNOWN.format(kind="parameter", name=str(key)[:64], valid=valid_list(sorted(allowed))),
            )


def parse_boolean(value: str | None, problems: Problems, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in BOOLEAN_TRUE:
        return True
    if text not in BOOLEAN_FALSE:
        problems.add(name, "Must be true or false.")
    return False


def filters_from_params(params: Any, names: tuple[str, ...], problems: Problems) -> tuple[Filter, ...]:
    """`provider=a,b` style parameters: one value is `eq`, several are `in`."""
    filters = []
    for name in names:
        values = comma_list(params.get(name))
        if values:
            operator, value = ("eq", values[0]) if len(values) == 1 else ("in", values)
            parsed = parse_filter(name, operator, value, problems, name, value_field=name)
            if parsed:
                filters.append(parsed)
    return tuple(filters)


def parse_fill(value: Any, problems: Problems) -> bool:
    """`fill`: `none` or `zero`; True means emit empty buckets."""
    if value not in ("none", "zero"):
        problems.add("fill", "Must be none or zero.")
    return bool(value == "zero")


def query_from_params(params: Any, *, org_id: int, now: datetime | None = None) -> MetricsQuery:
    """GET /api/v1/metrics: comma lists, one shared aggregation, filters as parameters."""
    now = now or datetime.now(UTC)
    problems = Problems()
    refuse_unknown_keys(params.keys(), GET_PARAMS, problems, "")
    names = comma_list(params.get("metrics"))
    if not names:
        problems.add("metrics", "This field is required: a comma-separated list of metric names.")
    aggregation = params.get("aggregation") or None
    requests: list[MetricRequest] = []
    for name in names:
        metric = catalog.METRICS.get(name)
        shared = aggregation if metric is not None and metric.kind in ("latency", "value") else None
        request = parse_metric(name, shared, None, problems, "metrics")
        if request:
            requests.append(request)
    if parse_boolean(params.get("include_percentiles"), problems, "include_percentiles"):
        for percentile in INCLUDED_PERCENTILES:
            requests.append(MetricRequest(catalog.METRICS["duration"], percentile, f"duration_{percentile}"))
    _check_metric_count(requests, problems)
    check_aliases(requests, problems)
    start, end = parse_range(params.get("start_time"), params.get("end_time"), problems, now=now)
    interval = parse_interval(params.get("interval"), start, end, problems)
    filters = filters_from_params(params, GET_FILTER_PARAMS, problems)
    fill = parse_fill(params.get("fill") or "none", problems)
    query = MetricsQuery(
        org_id=org_id,
        metrics=tuple(requests),
        start=start,
        end=end,
        interval=interval,
        timezone=parse_timezone(params.get("timezone"), problems),
        group_by=parse_dimensions(comma_list(params.get("group_by")), problems),
        filters=filters,
        limit=parse_limit(params.get("limit"), problems, catalog.limits()["max_rows"]),
        fill_zero=fill,
        now=now,
    )
    problems.raise_if_any()
    return query


def _check_metric_count(requests: list[MetricRequest], problems: Problems) -> None:
    limit = catalog.limits()["max_metrics"]
    if len(requests) > limit:
        problems.add("metrics", MSG_TOO_MANY.format(limit=limit, what="metrics per query"))


def _body_metrics(items: Any, problems: Problems) -> list[MetricRequest]:
    if not isinstance(items, list) or not items:
        problems.add("metrics", "A non-empty list of {metric, aggregation, alias} objects is required.")
        return []
    requests: list[MetricRequest] = []
    for index, item in enumerate(items):
        where = f"metrics[{index}]"
        if not isinstance(item, dict) or not set(item) <= {"metric", "aggregation", "alias"}:
            problems.add(where, "Must be an object with metric, and optionally aggregation and alias.")
            continue
        alias = item.get("alias")
        if alias is not None and not isinstance(alias, str):
            problems.add(f"{where}.alias", "Must be a string.")
            continue
        request = parse_metric(item.get("metric"), item.get("aggregation"), alias, problems, where)
        if request is None:
            continue
        if alias in (None, "") and any(r.alias == request.alias for r in requests):
            # A second aggregation of the same metric gets a distinct default name.
            request = MetricRequest(request.metric, request.aggregation, f"{request.metric.name}_{request.aggregation}")
        requests.append(request)
    _check_metric_count(requests, problems)
    check_aliases(requests, problems)
    return requests


def _body_filters(items: Any, problems: Problems) -> list[Filter]:
    if items in (None, []):
        return []
    limit = catalog.limits()["max_filters"]
    if not isinstance(items, list) or len(items) > limit:
        problems.add("filters", f"Must be a list of at most {limit} filters.")
        return []
    filters = []
    for index, item in enumerate(items):
        where = f"filters[{index}]"
        if not isinstance(item, dict) or set(item) != {"dimension", "operator", "value"}:
            problems.add(where, "Must be an object with exactly dimension, operator and value.")
            continue
        parsed = parse_filter(item["dimension"], item["operator"], item["value"], problems, where)
        if parsed:
            filters.append(parsed)
    return filters


def _body_having(items: Any, problems: Problems) -> list[Having]:
    if items in (None, []):
        return []
    if not isinstance(items, list) or len(items) > catalog.limits()["max_filters"]:
        problems.add("having", "Must be a list of conditions.")
        return []
    conditions = []
    for index, item in enumerate(items):
        where = f"having[{index}]"
        if not isinstance(item, dict) or not {"metric", "operator", "value"} <= set(item) <= {
            "metric",
            "aggregation",
            "operator",
            "value",
        }:
            problems.add(where, "Must be an object with metric, operator, value and optionally aggregation.")
            continue
        request = parse_metric(item["metric"], item.get("aggregation"), f"having_{index}", problems, where)
        operator = item["operator"]
        if not isinstance(operator, str) or operator not in catalog.HAVING_OPERATORS:
            valid = valid_list(catalog.HAVING_OPERATORS)
            problems.add(f"{where}.operator", MSG_UNKNOWN.format(kind="operator", name=str(operator)[:32], valid=valid))
            continue
        value = parse_decimal(item["value"])
        if value is None:
            problems.add(f"{where}.value", "Must be a number.")
            continue
        if request:
            conditions.append(Having(request=request, operator=operator, value=value))
    return conditions


def _body_sort(
    item: Any, requests: list[MetricRequest], group_by: tuple[Dimension, ...], problems: Problems
) -> Sort | None:
    if item is None:
        return None
    if not isinstance(item, dict) or not set(item) <= {"field", "descending"} or "field" not in item:
        problems.add("sort_by", "Must be an object with field and optionally descending.")
        return None
    name = item["field"]
    by_alias = {r.alias: r.alias for r in requests}
    for request in requests:
        by_alias.setdefault(request.metric.name, request.alias)
    valid = {**by_alias, **{d.name: d.name for d in group_by}, "timestamp": "timestamp"}
    descending = item.get("descending", False)
    if not isinstance(descending, bool):
        problems.add("sort_by.descending", "Must be true or false.")
    if not isinstance(name, str) or name not in valid:
        problems.add("sort_by.field", MSG_SORT_FIELD.format(valid=valid_list(valid)))
        return None
    return Sort(field=valid[name], descending=bool(descending))


def query_from_body(body: Any, *, org_id: int, now: datetime | None = None) -> MetricsQuery:
    """POST /api/v1/metrics/query."""
    now = now or datetime.now(UTC)
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("", "The body must be a JSON object.")
        problems.raise_if_any()
    refuse_unknown_keys(body.keys(), BODY_KEYS, problems, "")
    requests = _body_metrics(body.get("metrics"), problems)
    start, end = parse_range(body.get("start_time"), body.get("end_time"), problems, now=now, required=True)
    # An absent interval means the default; an explicit null means one row per group.
    interval = parse_interval(body.get("interval", "1hour"), start, end, problems, allow_none=True)
    group_by = parse_dimensions(body.get("group_by"), problems)
    fill = parse_fill(body.get("fill", "none"), problems)
    query = MetricsQuery(
        org_id=org_id,
        metrics=tuple(requests),
        start=start,
        end=end,
        interval=interval,
        timezone=parse_timezone(body.get("timezone"), problems),
        group_by=group_by,
        filters=tuple(_body_filters(body.get("filters"), problems)),
        having=tuple(_body_having(body.get("having"), problems)),
        sort=_body_sort(body.get("sort_by"), requests, group_by, problems),
        limit=parse_limit(body.get("limit"), problems, 1000),
        fill_zero=fill,
        now=now,
    )
    problems.raise_if_any()
    return query
