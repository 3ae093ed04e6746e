"""Every refusal of the metrics endpoints: a 400 envelope naming the field and the valid names."""

import orjson
import pytest

from metrics.query import catalog
from metrics.query import spec as messages

pytestmark = pytest.mark.django_db

RANGE = {"start_time": "2026-11-20T00:00:00Z", "end_time": "2026-11-21T00:00:00Z"}
SQL = "x'); DROP TABLE llm_traces; --"


def assert_400(response, field: str, fragment: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert any(d["field"] == field and fragment in d["message"] for d in body["error"]["details"]), body


GET_CASES = {
    "no-metrics": ({}, "metrics", "required"),
    "unknown-metric": ({"metrics": "request_count,revenue"}, "metrics", "Valid: request_count, duration"),
    "sql-metric": ({"metrics": SQL}, "metrics", "Unknown metric"),
    "unknown-dimension": ({"metrics": "request_count", "group_by": "country"}, "group_by", "Valid: provider, model"),
    "sql-dimension": ({"metrics": "request_count", "group_by": SQL}, "group_by", "Unknown dimension"),
    "bad-aggregation": ({"metrics": "duration", "aggregation": "sum"}, "metrics", "Valid: avg, min, max"),
    "unknown-aggregation": ({"metrics": "total_cost", "aggregation": "median"}, "metrics", "Valid: sum, avg"),
    "unknown-interval": ({"metrics": "request_count", "interval": "2h"}, "interval", "Valid: 1min, 5min"),
    "unknown-param": ({"metrics": "request_count", "colour": "red"}, "colour", "Unknown parameter"),
    "bad-time": ({"metrics": "request_count", "start_time": "last tuesday"}, "start_time", "ISO 8601"),
    "start-after-end": (
        {"metrics": "request_count", "start_time": "2026-11-21T00:00:00Z", "end_time": "2026-11-20T00:00:00Z"},
        "start_time",
        "before end_time",
    ),
    "range-too-long": (
        {"metrics": "request_count", "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-11-01T00:00:00Z"},
        "start_time",
        "at most 90 days",
    ),
    "beyond-retention": (
        {"metrics": "request_count", "start_time": "2020-01-01T00:00:00Z", "end_time": "2020-01-02T00:00:00Z"},
        "start_time",
        "older than any data",
    ),
    "too-many-buckets": (
        {
            "metrics": "request_count",
            "interval": "1min",
            "start_time": "2026-11-01T00:00:00Z",
            "end_time": "2026-11-20T00:00:00Z",
        },
        "interval",
        "the limit is 10000",
    ),
    "end-years-ahead": (
        {"metrics": "request_count", "start_time": "9999-12-30T00:00:00Z", "end_time": "9999-12-31T00:00:00Z"},
        "end_time",
        "at most 366 days from now",
    ),
    "offset-past-year-9999": (
        {"metrics": "request_count", "end_time": "9999-12-31T23:59:59-05:00"},
        "end_time",
        "ISO 8601",
    ),
    "bad-timezone": ({"metrics": "request_count", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
    "path-timezone": ({"metrics": "request_count", "timezone": "../../etc/passwd"}, "timezone", "IANA"),
    "bad-fill": ({"metrics": "request_count", "fill": "linear"}, "fill", "none or zero"),
    "bad-limit": ({"metrics": "request_count", "limit": "0"}, "limit", "from 1 to 10000"),
    "huge-limit": ({"metrics": "request_count", "limit": "10001"}, "limit", "from 1 to 10000"),
    "bad-status": ({"metrics": "request_count", "status_code": "FAILED"}, "status_code", "OK, ERROR or UNSET"),
    "too-many-metrics": ({"metrics": ",".join(["request_count"] * 21)}, "metrics", "At most 20"),
    "too-many-groups": (
        {"metrics": "request_count", "group_by": "provider,model,environment,status_code,user_id,session_id"},
        "group_by",
        "At most 5",
    ),
    "bad-boolean": (
        {"metrics": "request_count", "include_percentiles": "maybe"},
        "include_percentiles",
        "true or false",
    ),
}


@pytest.mark.parametrize(("params", "field", "fragment"), GET_CASES.values(), ids=GET_CASES.keys())
def test_series_refusals(reader, params, field, fragment):
    assert_400(reader.get("/api/v1/metrics", {**RANGE, **params}), field, fragment)


def post(client, body):
    return client.post("/api/v1/metrics/query", data=orjson.dumps(body), content_type="application/json")


METRIC = [{"metric": "request_count"}]
POST_CASES = {
    "no-range": ({"metrics": METRIC}, "start_time", "required"),
    "empty-metrics": ({**RANGE, "metrics": []}, "metrics", "non-empty list"),
    "metric-not-object": ({**RANGE, "metrics": ["request_count"]}, "metrics[0]", "Must be an object"),
    "unknown-metric": ({**RANGE, "metrics": [{"metric": SQL}]}, "metrics[0]", "Unknown metric"),
    "aggregation-on-computed": (
        {**RANGE, "metrics": [{"metric": "error_rate", "aggregation": "avg"}]},
        "metrics[0]",
        "takes no aggregation",
    ),
    "bad-alias": (
        {**RANGE, "metrics": [{"metric": "request_count", "alias": "Robert'); --"}]},
        "metrics[0].alias",
        "lowercase",
    ),
    "reserved-alias": (
        {**RANGE, "metrics": [{"metric": "request_count", "alias": "provider"}]},
        "metrics[0].alias",
        "clashes",
    ),
    "duplicate-alias": (
        {**RANGE, "metrics": [{"metric": "request_count", "alias": "a"}, {"metric": "error_count", "alias": "a"}]},
        "metrics[1].alias",
        "used twice",
    ),
    "unknown-operator": (
        {**RANGE, "metrics": METRIC, "filters": [{"dimension": "model", "operator": "like", "value": "x"}]},
        "filters[0].operator",
        "Valid: eq, ne, in, not_in, contains, starts_with",
    ),
    "unknown-filter-dimension": (
        {**RANGE, "metrics": METRIC, "filters": [{"dimension": SQL, "operator": "eq", "value": "x"}]},
        "filters[0].dimension",
        "Unknown dimension",
    ),
    "in-needs-list": (
        {**RANGE, "metrics": METRIC, "filters": [{"dimension": "model", "operator": "in", "value": "x"}]},
        "filters[0].value",
        "needs a list",
    ),
    "value-not-string": (
        {**RANGE, "metrics": METRIC, "filters": [{"dimension": "model", "operator": "eq", "value": {"$gt": 1}}]},
        "filters[0].value",
        "string",
    ),
    "extra-filter-key": (
        {**RANGE, "metrics": METRIC, "filters": [{"dimension": "model", "operator": "eq", "value": "x", "sql": "1"}]},
        "filters[0]",
        "exactly dimension, operator and value",
    ),
    "having-operator": (
        {**RANGE, "metrics": METRIC, "having": [{"metric": "request_count", "operator": "between", "value": 1}]},
        "having[0].operator",
        "Valid: gt, gte, lt, lte, eq",
    ),
    "having-value": (
        {**RANGE, "metrics": METRIC, "having": [{"metric": "request_count", "operator": "gt", "value": "1 OR 1=1"}]},
        "having[0].value",
        "number",
    ),
    "having-aggregation": (
        {
            **RANGE,
            "metrics": METRIC,
            "having": [{"metric": "duration", "aggregation": "sum", "operator": "gt", "value": 1}],
        },
        "having[0]",
        "not valid for duration",
    ),
    "sort-field": ({**RANGE, "metrics": METRIC, "sort_by": {"field": SQL}}, "sort_by.field", "Sort by an alias"),
    "sort-ungrouped-dimension": (
        {**RANGE, "metrics": METRIC, "sort_by": {"field": "model"}},
        "sort_by.field",
        "Valid:",
    ),
    "unknown-key": ({**RANGE, "metrics": METRIC, "order": "desc"}, "order", "Unknown parameter"),
    "limit": ({**RANGE, "metrics": METRIC, "limit": 20000}, "limit", "from 1 to 10000"),
    "naive-and-offset": (
        {"metrics": METRIC, "start_time": "2026-11-20T12:00:00", "end_time": "2026-11-20T12:00:00+01:00"},
        "start_time",
        "before end_time",
    ),
}


@pytest.mark.parametrize(("body", "field", "fragment"), POST_CASES.values(), ids=POST_CASES.keys())
def test_query_refusals(querier, body, field, fragment):
    assert_400(post(querier, body), field, fragment)


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"metrics"', b"{broken", b"null"], ids=["array", "string", "broken", "null"]
)
def test_non_object_bodies(querier, body):
    response = querier.post("/api/v1/metrics/query", data=body, content_type="application/json")
    assert response.status_code == 400


def test_naive_timestamps_mean_utc(querier, known_spans):
    body = post(
        querier,
        {"metrics": METRIC, "interval": None, "start_time": "2026-11-20T00:00:00", "end_time": "2026-11-21T00:00:00"},
    )
    assert body.json()["metadata"]["start_time"] == "2026-11-20T00:00:00Z"
    assert body.json()["data"][0]["request_count"] == 10


def test_sql_looking_values_are_just_values(querier, known_spans):
    body = post(
        querier,
        {
            **RANGE,
            "metrics": METRIC,
            "interval": None,
            "filters": [{"dimension": "model", "operator": "eq", "value": SQL}],
        },
    )
    assert body.status_code == 200
    assert body.json()["data"] == []


def test_summary_refusals(reader):
    assert_400(reader.get("/api/v1/metrics/summary", {"top_n": "51"}), "top_n", "from 1 to 50")
    assert_400(reader.get("/api/v1/metrics/summary", {"group_by": "model"}), "group_by", "Unknown parameter")
    assert_400(reader.get("/api/v1/metrics/summary", {"start_time": "soon"}), "start_time", "ISO 8601")
    far_ahead = {"start_time": "9999-12-30T00:00:00Z", "end_time": "9999-12-31T00:00:00Z"}
    assert_400(reader.get("/api/v1/metrics/summary", far_ahead), "end_time", "at most 366 days from now")


def test_the_catalog_endpoint_serves_the_declaration(reader):
    body = reader.get("/api/v1/metrics/schema").json()
    assert [m["name"] for m in body["metrics"]] == list(catalog.METRICS)
    assert len(body["metrics"]) == 19
    duration = next(m for m in body["metrics"] if m["name"] == "duration")
    assert duration["aggregations"] == [
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "p50",
        "p75",
        "p90",
        "p95",
        "p99",
        "p999",
    ]
    assert {d["name"]: d["in_rollups"] for d in body["dimensions"]}["user_id"] is False
    assert body["intervals"][-1] == "auto"
    assert body["limits"]["max_range_days"] == 90
    assert body["percentile_relative_error"] < 0.01
    assert messages.MSG_UNKNOWN  # the messages the tests above match live in one module
