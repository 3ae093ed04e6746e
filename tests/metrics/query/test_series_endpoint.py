"""GET /api/v1/metrics: parameters, shapes, time zones, fill, limits, CSV, rollup vs raw."""

import csv
import gc
import io
import weakref
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory

from accounts import services
from accounts.scopes import METRICS_READ
from metrics.api import views
from tests.metrics.query.conftest import DAY, ingest, span

URL = "/api/v1/metrics"
pytestmark = pytest.mark.django_db

DAY_RANGE = {"start_time": "2026-11-20T00:00:00Z", "end_time": "2026-11-21T00:00:00Z"}


def get(client, **params):
    return client.get(URL, {**DAY_RANGE, **params})


def test_counts_cost_and_latency_per_provider(reader, known_spans):
    response = get(
        reader, metrics="request_count,total_cost,duration,error_count", interval="1day", group_by="provider"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"]["data_source"] == "aggregate_1day"
    assert body["metadata"]["units"] == {
        "request_count": "requests",
        "total_cost": "usd",
        "duration": "ms",
        "error_count": "requests",
    }
    rows = {row["provider"]: row for row in body["data"]}
    assert rows["openai"] == {
        "timestamp": "2026-11-20T00:00:00Z",
        "provider": "openai",
        "request_count": 6,
        "total_cost": float(Decimal("0.021")),  # 0.001 + ... + 0.006
        "duration": 350.0,
        "error_count": 2,
    }
    assert rows["anthropic"]["request_count"] == 4
    assert rows["anthropic"]["duration"] == 850.0


def test_costs_are_exact_decimals_in_the_json(reader, known_spans):
    response = get(reader, metrics="total_cost", interval="1day")
    assert b'"total_cost":0.0550000000' in response.content


def test_include_percentiles_adds_duration_percentiles(reader, known_spans):
    body = get(reader, metrics="request_count", interval="1day", include_percentiles="true").json()
    row = body["data"][0]
    for name, exact in (("duration_p50", 500), ("duration_p90", 900), ("duration_p95", 1000), ("duration_p99", 1000)):
        assert abs(row[name] - exact) / exact <= 0.01, name


def test_buckets_are_hours_and_fill_zero_emits_the_empty_ones(reader, known_spans):
    sparse = get(reader, metrics="request_count", interval="1hour").json()["data"]
    filled = get(reader, metrics="request_count", interval="1hour", fill="zero").json()["data"]
    assert len(sparse) == 10
    assert len(filled) == 24
    assert [row["request_count"] for row in filled[:11]] == [1] * 10 + [0]
    assert filled[0]["timestamp"] == "2026-11-20T00:00:00Z"
    assert filled[23]["timestamp"] == "2026-11-20T23:00:00Z"


def test_interval_auto_picks_the_finest_with_at_most_300_buckets(reader, known_spans):
    assert get(reader, metrics="request_count", interval="auto").json()["metadata"]["interval"] == "5min"
    week = {"start_time": "2026-11-14T00:00:00Z", "end_time": "2026-11-21T00:00:00Z"}
    response = reader.get(URL, {**week, "metrics": "request_count", "interval": "auto"})
    assert response.json()["metadata"]["interval"] == "1hour"


def test_limit_truncates_and_says_so(reader, known_spans):
    body = get(reader, metrics="request_count", interval="1hour", limit="3").json()
    assert len(body["data"]) == 3
    assert body["metadata"]["truncated"] is True
    assert body["metadata"]["total_points"] == 3
    assert get(reader, metrics="request_count", interval="1hour").json()["metadata"]["truncated"] is False


@pytest.mark.parametrize("percentiles", [True, False])  # sorted by the runner / by PostgreSQL
def test_rows_come_in_time_then_code_point_order_even_when_groups_are_hashed(reader, org, percentiles):
    models = ["Zeta", "alpha", "m-x_1", "m%pct", "\u00c9mile", "beta"]
    # providers in the opposite order: rows left in the rollups' key order (provider, model) would show
    providers = {model: f"provider-{9 - i}" for i, model in enumerate(sorted(models))}
    spans = [
        span(DAY + timedelta(hours=h, minutes=m), model=model, provider=providers[model])
        for h in range(3)
        for m, model in enumerate(models)
    ]
    ingest(org, spans)
    with connection.cursor() as cursor:  # groups hashed, not sorted, wherever a plan may choose (until rollback)
        cursor.execute("SET enable_sort = off")
    params = {"include_percentiles": "true"} if percentiles else {}
    body = get(reader, metrics="duration", interval="1hour", group_by="model", **params).json()
    order = [(row["timestamp"], row["model"]) for row in body["data"]]
    assert order == sorted(order)  # "Zeta" < "alpha" < "beta" < "m%pct" < "m-x_1" < "Émile"
    assert len(order) == 18


def test_comma_list_filters(reader, known_spans):
    body = get(reader, metrics="request_count", interval="1day", status_code="ERROR", provider="openai,mistral").json()
    assert body["data"][0]["request_count"] == 2


def test_user_filters_read_raw_spans(reader, known_spans):
    body = get(reader, metrics="request_count,unique_users", interval="1day", user_id="user-0,user-1").json()
    assert body["metadata"]["data_source"] == "raw"
    assert body["data"][0] == {"timestamp": "2026-11-20T00:00:00Z", "request_count": 7, "unique_users": 2}


def test_rollup_and_raw_paths_agree(reader, known_spans):
    # the same question, once from rollups and once forced onto raw spans by a filter that keeps every span
    params = {"metrics": "request_count,total_cost,duration,error_rate", "interval": "1hour", "group_by": "model"}
    rollup = get(reader, **params).json()
    raw = get(reader, **params, user_id="user-0,user-1,user-2").json()
    assert rollup["metadata"]["data_source"] == "aggregate_1hour"
    assert raw["metadata"]["data_source"] == "raw"
    assert rollup["data"] == raw["data"]


def test_an_unaligned_range_combines_rollups_and_raw_edges(reader, org, known_spans):
    # 00:07:00 is the first span; a range starting 00:07:30 must leave it out
    body = reader.get(
        URL,
        {
            "metrics": "request_count",
            "interval": "1day",
            "start_time": "2026-11-20T00:07:30Z",
            "end_time": "2026-11-20T09:07:00Z",
        },
    ).json()
    assert body["data"][0]["request_count"] == 8  # 01:07 … 08:07; 09:07 is excluded (end is exclusive)


def test_a_span_exactly_at_the_end_is_excluded_and_at_the_start_included(reader, org):
    ingest(org, [span(DAY), span(DAY + timedelta(days=1))])
    assert get(reader, metrics="request_count", interval="1day").json()["data"][0]["request_count"] == 1


def test_empty_range_gives_no_rows(reader, known_spans):
    body = reader.get(
        URL, {"metrics": "request_count", "start_time": "2026-11-10T00:00:00Z", "end_time": "2026-11-11T00:00:00Z"}
    ).json()
    assert body["data"] == []


def test_csv_has_dimensions_first_and_matches_the_json(reader, known_spans):
    params = {"metrics": "request_count,total_cost,duration", "interval": "1hour", "group_by": "provider,model"}
    json_rows = get(reader, **params).json()["data"]
    response = get(reader, **params, format="csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == ["provider", "model", "timestamp", "request_count", "total_cost", "duration"]
    assert len(rows) == len(json_rows)
    for csv_row, json_row in zip(rows, json_rows, strict=True):
        assert csv_row["timestamp"] == json_row["timestamp"]
        assert int(csv_row["request_count"]) == json_row["request_count"]
        assert Decimal(csv_row["total_cost"]) == Decimal(str(json_row["total_cost"]))
        assert float(csv_row["duration"]) == json_row["duration"]


def test_accept_text_csv_works_too(reader, known_spans):
    response = reader.get(URL, {**DAY_RANGE, "metrics": "request_count"}, HTTP_ACCEPT="text/csv")
    assert response.content.decode().splitlines()[0] == "timestamp,request_count"


def test_errors_stay_json_when_csv_was_asked(reader):
    response = reader.get(URL, {"metrics": "nope", "format": "csv"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


# ---- time zones and DST ------------------------------------------------------------------------


@pytest.fixture
def dst_spans(org):
    """One span every hour from 2026-10-23 to 2026-10-28 UTC; Berlin leaves summer time on 10-25."""
    start = datetime(2026, 10, 23, tzinfo=UTC)
    ingest(org, [span(start + timedelta(hours=h, minutes=30)) for h in range(5 * 24)])


def test_local_days_follow_dst_in_berlin(reader, dst_spans):
    body = reader.get(
        URL,
        {
            "metrics": "request_count",
            "interval": "1day",
            "timezone": "Europe/Berlin",
            "start_time": "2026-10-24T00:00:00+02:00",
            "end_time": "2026-10-27T00:00:00+01:00",
        },
    ).json()
    assert [(row["timestamp"], row["request_count"]) for row in body["data"]] == [
        ("2026-10-24T00:00:00+02:00", 24),
        ("2026-10-25T00:00:00+02:00", 25),  # the 25-hour day
        ("2026-10-26T00:00:00+01:00", 24),
    ]
    assert body["metadata"]["data_source"] in ("aggregate_1hour", "aggregate_1min")


def test_fill_zero_gives_every_hour_of_the_25_hour_day(reader, dst_spans):
    body = reader.get(
        URL,
        {
            "metrics": "request_count",
            "interval": "1hour",
            "timezone": "Europe/Berlin",
            "start_time": "2026-10-25T00:00:00+02:00",
            "end_time": "2026-10-26T00:00:00+01:00",
            "provider": "nobody",  # no spans: every bucket is a filled one
            "fill": "zero",
        },
    ).json()
    stamps = [row["timestamp"] for row in body["data"]]
    # 02:00 twice: once in summer time, once after the clocks went back
    assert stamps[1:4] == ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert len(stamps) == len(set(stamps)) == 25
    assert {row["request_count"] for row in body["data"]} == {0}


def test_a_week_across_dst_starts_on_local_monday(reader, dst_spans):
    body = reader.get(
        URL,
        {
            "metrics": "request_count",
            "interval": "1week",
            "timezone": "Europe/Berlin",
            "start_time": "2026-10-19T00:00:00+02:00",
            "end_time": "2026-11-02T00:00:00+01:00",
        },
    ).json()
    # spans from 2026-10-23T00:30Z (02:30 local) to 2026-10-27T23:30Z; Monday 10-26 00:00 local = 10-25T23:00Z
    assert [(row["timestamp"], row["request_count"]) for row in body["data"]] == [
        ("2026-10-19T00:00:00+02:00", 71),
        ("2026-10-26T00:00:00+01:00", 49),
    ]


def test_hourly_buckets_in_a_half_hour_zone(reader, known_spans):
    body = get(reader, metrics="request_count", interval="1hour", timezone="Asia/Kolkata").json()
    # local hours start at :30 UTC; 00:07Z is 05:37 local, in the 05:00–06:00 local bucket
    assert body["data"][0]["timestamp"] == "2026-11-20T05:00:00+05:30"
    assert body["metadata"]["data_source"] == "aggregate_1min"
    assert sum(row["request_count"] for row in body["data"]) == 10


def test_months_are_calendar_months(reader, dst_spans, known_spans):
    body = reader.get(
        URL,
        {
            "metrics": "request_count",
            "interval": "1month",
            "start_time": "2026-10-01T00:00:00Z",
            "end_time": "2026-12-01T00:00:00Z",
        },
    ).json()
    assert [(row["timestamp"], row["request_count"]) for row in body["data"]] == [
        ("2026-10-01T00:00:00Z", 120),
        ("2026-11-01T00:00:00Z", 10),
    ]


@pytest.mark.parametrize(
    "view, params",
    [
        ("MetricsSeriesView", {"metrics": "request_count", "interval": "1hour"}),
        ("MetricsSeriesView", {"metrics": "request_count", "interval": "1hour", "format": "csv"}),
        ("MetricsSummaryView", {}),
    ],
)
def test_an_answer_is_let_go_once_returned_not_kept_for_the_garbage_collector(org, known_spans, view, params):
    """A long series' body is megabytes: it must be freed when the server is done with it, not
    when the cyclic garbage collector next finds the view (which DRF leaves holding it)."""
    secret = services.api_key_issue(organization=org, name="reader key", scopes=[METRICS_READ]).secret
    request = RequestFactory().get(URL, {**DAY_RANGE, **params}, HTTP_X_API_KEY=secret)
    gc.collect()
    gc.disable()
    try:
        response = getattr(views, view).as_view()(request)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv" if "format" in params else "application/json")
        answer = weakref.ref(response)
        del response
        assert answer() is None
    finally:
        gc.enable()
