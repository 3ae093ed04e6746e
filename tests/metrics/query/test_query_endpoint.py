"""POST /api/v1/metrics/query: aliases, HAVING, sorting, limits, totals per group, literal LIKE."""

import json
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from django.db import connection

from tests.metrics.query.conftest import DAY, ingest, span

URL = "/api/v1/metrics/query"
pytestmark = pytest.mark.django_db
RANGE = {"start_time": "2026-11-20T00:00:00Z", "end_time": "2026-11-21T00:00:00Z"}


def post(client, **body):
    return client.post(URL, data=orjson.dumps({**RANGE, **body}), content_type="application/json")


def test_totals_per_group_with_aliases_having_and_sort(querier, known_spans):
    response = post(
        querier,
        metrics=[
            {"metric": "request_count", "aggregation": "sum", "alias": "calls"},
            {"metric": "duration", "aggregation": "max", "alias": "slowest"},
            {"metric": "total_cost"},
        ],
        interval=None,
        group_by=["provider"],
        having=[{"metric": "request_count", "aggregation": "sum", "operator": "gte", "value": 5}],
        sort_by={"field": "total_cost", "descending": True},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["data"] == [{"provider": "openai", "calls": 6, "slowest": 600.0, "total_cost": 0.021}]
    assert body["metadata"]["having_conditions"] == 1
    assert body["metadata"]["total_rows"] == 1
    assert body["metadata"]["interval"] is None


def test_having_on_a_metric_not_selected(querier, known_spans):
    body = post(
        querier,
        metrics=[{"metric": "request_count"}],
        interval=None,
        group_by=["provider"],
        having=[{"metric": "duration", "aggregation": "avg", "operator": "gt", "value": 500}],
    ).json()
    assert body["data"] == [{"provider": "anthropic", "request_count": 4}]


def test_sorting_by_dimension_and_limit(querier, known_spans):
    body = post(
        querier,
        metrics=[{"metric": "request_count"}],
        interval=None,
        group_by=["user_id"],
        sort_by={"field": "user_id", "descending": True},
        limit=2,
    ).json()
    assert [row["user_id"] for row in body["data"]] == ["user-2", "user-1"]
    assert body["metadata"]["truncated"] is True
    assert body["metadata"]["data_source"] == "raw"


def test_sort_by_timestamp_descending(querier, known_spans):
    body = post(
        querier,
        metrics=[{"metric": "request_count"}],
        interval="1hour",
        sort_by={"field": "timestamp", "descending": True},
    ).json()
    assert body["data"][0]["timestamp"] == "2026-11-20T09:00:00Z"


def test_two_aggregations_of_one_metric_get_distinct_default_names(querier, known_spans):
    body = post(
        querier,
        metrics=[{"metric": "duration", "aggregation": "min"}, {"metric": "duration", "aggregation": "max"}],
        interval=None,
    ).json()
    assert body["data"] == [{"duration": 100.0, "duration_max": 1000.0}]


def test_stddev_and_percentiles(querier, known_spans):
    body = post(
        querier,
        metrics=[
            {"metric": "duration", "aggregation": "stddev", "alias": "sd"},
            {"metric": "duration", "aggregation": "p999", "alias": "top"},
        ],
        interval=None,
    ).json()
    row = body["data"][0]
    assert abs(row["sd"] - 302.76503540974917) < 1e-6  # statistics.stdev(100, 200, ..., 1000)
    assert abs(row["top"] - 1000) / 1000 <= 0.01


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("contains", "a_b", ["a_b-model"]),  # _ is literal, not "any character"
        ("contains", "%", ["100%-model"]),
        ("starts_with", "a_", ["a_b-model"]),
        ("starts_with", "a", ["a_b-model", "axb-model"]),
    ],
)
def test_contains_and_starts_with_match_literally(querier, org, operator, value, expected):
    ingest(org, [span(DAY, model=m) for m in ("a_b-model", "axb-model", "100%-model")])
    body = post(
        querier,
        metrics=[{"metric": "request_count"}],
        interval=None,
        group_by=["model"],
        filters=[{"dimension": "model", "operator": operator, "value": value}],
    ).json()
    assert sorted(row["model"] for row in body["data"]) == expected


def test_not_in_and_ne_keep_spans_without_the_dimension(querier, org):
    ingest(org, [span(DAY, user_id="u1"), span(DAY), span(DAY, user_id="u2")])
    for flt in ({"operator": "ne", "value": "u1"}, {"operator": "not_in", "value": ["u1"]}):
        body = post(
            querier,
            metrics=[{"metric": "request_count"}],
            interval=None,
            filters=[{"dimension": "user_id", **flt}],
        ).json()
        assert body["data"][0]["request_count"] == 2


def test_unknown_provider_values_are_null_in_groups(querier, org):
    ingest(org, [span(DAY, environment=None), span(DAY, environment="production")])
    body = post(querier, metrics=[{"metric": "request_count"}], interval=None, group_by=["environment"]).json()
    assert body["data"] == [
        {"environment": None, "request_count": 1},
        {"environment": "production", "request_count": 1},
    ]


def test_costs_by_user_from_raw_spans_are_exact_from_the_largest_cost_to_the_smallest(querier, org):
    # Raw spans sum costs through their integer copy (total_cost_scaled, × 10^10): the answer must
    # be the exact decimals, at both ends of what a span may cost and with unpriced spans.
    costs = {
        "alice": ["1000000", "0.0000000001", "123.4567890123", "999999.9999999999"],
        "bob": ["0.0000000001", None],
    }
    ingest(
        org,
        [
            span(DAY + timedelta(minutes=i), user_id=user, total_cost_usd=cost, provider="nobody", model="unpriced")
            for user, values in costs.items()
            for i, cost in enumerate(values)
        ],
    )
    response = post(
        querier,
        metrics=[{"metric": "total_cost", "aggregation": a, "alias": a} for a in ("sum", "min", "max", "count", "avg")],
        interval=None,
        group_by=["user_id"],
        sort_by={"field": "user_id"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["metadata"]["data_source"] == "raw"
    answered = json.loads(response.content, parse_float=Decimal)["data"]
    expected = []
    for user, values in costs.items():
        priced = [Decimal(v) for v in values if v is not None]
        expected.append(
            {
                "user_id": user,
                "sum": sum(priced),
                "min": min(priced),
                "max": max(priced),
                "count": len(priced),
                "avg": sum(priced) / len(priced),
            }
        )
    for row, wanted in zip(answered, expected, strict=True):
        assert row["user_id"] == wanted["user_id"]
        assert (row["sum"], row["min"], row["max"], row["count"]) == (
            wanted["sum"],
            wanted["min"],
            wanted["max"],
            wanted["count"],
        )
        assert abs(row["avg"] - wanted["avg"]) <= Decimal("1e-9") * wanted["avg"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT total_cost, total_cost_scaled FROM llm_traces WHERE org_id = %s", [org.pk])
        stored = cursor.fetchall()
    assert len(stored) == 6
    assert all(scaled == (None if cost is None else int(cost * 10**10)) for cost, scaled in stored)
