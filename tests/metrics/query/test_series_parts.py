"""A long percentile series is fetched in parts, one run of whole buckets per connection."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from metrics.api.renderers import exact_json
from metrics.query import parallel, parse, runner
from metrics.query.runner import bucket_starts
from tests.metrics.query.conftest import ingest, span

URL = "/api/v1/metrics"
START = datetime(2026, 11, 16, tzinfo=UTC)


def series(org_id: int, days: int, timezone: str = "UTC", start: datetime = START, **params):
    return parse.query_from_params(
        {
            "metrics": "duration",
            "interval": "1hour",
            "include_percentiles": "true",
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(days=days)).isoformat(),
            "timezone": timezone,
            **params,
        },
        org_id=org_id,
    )


@pytest.mark.parametrize("parts", [2, 3])
def test_a_long_series_is_cut_at_its_own_bucket_starts_into_consecutive_parts(monkeypatch, parts):
    monkeypatch.setattr(runner, "PARTS", parts)
    query = series(1, days=7, timezone="Asia/Kolkata", start=START + timedelta(minutes=10))
    zone = runner.ZoneInfo(query.timezone)
    # when
    pieces = runner.query_parts(query)
    # then
    assert len(pieces) == parts
    assert pieces[0].start == query.start and pieces[-1].end == query.end
    assert all(before.end == after.start for before, after in zip(pieces, pieces[1:], strict=False))
    whole = bucket_starts(query, zone)
    assert all(piece.start in whole for piece in pieces[1:])
    assert [start for piece in pieces for start in bucket_starts(piece, zone)] == whole


def test_short_series_and_whole_range_totals_stay_one_query(monkeypatch):
    monkeypatch.setattr(runner, "PARTS", 2)
    short = series(1, days=1)  # 24 buckets: fewer than two parts' worth
    totals = parse.query_from_body(
        {
            "metrics": [{"metric": "duration", "aggregation": "p95"}],
            "interval": None,
            "start_time": START.isoformat(),
            "end_time": (START + timedelta(days=7)).isoformat(),
        },
        org_id=1,
    )
    assert runner.query_parts(short) == [short]
    assert runner.query_parts(totals) == [totals]


def test_a_half_hour_daylight_saving_shift_keeps_the_series_whole(monkeypatch):
    # Lord Howe Island moves its clocks by 30 minutes (2026-10-04): hourly buckets counted from a
    # local midnight after the shift (the cut falls on 10-05) would start half an hour off the whole
    # series' ones.
    monkeypatch.setattr(runner, "PARTS", 2)
    query = series(1, days=7, timezone="Australia/Lord_Howe", start=datetime(2026, 10, 1, 13, 30, tzinfo=UTC))
    assert runner.query_parts(query) == [query]
    # the same week in a whole-hour zone is cut
    assert len(runner.query_parts(series(1, days=7, timezone="Europe/Berlin"))) == 2


def nearest_rank(values: list[Decimal], q: float) -> Decimal:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.usefixtures("committed_db")
def test_a_series_fetched_in_parts_on_their_own_connections_answers_as_one_query_does(org, reader, monkeypatch):
    # given: four days of spans from three models, with spread-out durations
    rng = random.Random(5)
    spans = [
        span(
            START + timedelta(seconds=rng.uniform(0, 4 * 86400)),
            model=rng.choice(["gpt-4o", "gpt-4o-mini", "o3"]),
            duration_ms=round(rng.lognormvariate(6, 1), 3),
        )
        for _ in range(1500)
    ]
    ingest(org, spans)
    params = {
        "metrics": "duration",
        "interval": "1hour",
        "group_by": "model",
        "include_percentiles": "true",
        "start_time": START.isoformat(),
        "end_time": (START + timedelta(days=4)).isoformat(),
    }
    query = parse.query_from_params(params, org_id=org.pk)
    monkeypatch.setattr(runner, "PARTS", 3)
    assert len(runner.plan_parts(query)) == 3
    # when
    try:
        in_parts = reader.get(URL, params).json()
    finally:
        parallel.close_connections()
    monkeypatch.setattr(runner, "PARTS", 1)
    whole = orjson.loads(exact_json(runner.run_query(query).rows))
    # then: the same rows as one query gives, and each percentile within 1 % of the exact one
    assert in_parts["data"] == whole
    assert in_parts["metadata"]["total_points"] == len(in_parts["data"]) > 90
    durations: dict[tuple[str, str], list[Decimal]] = {}
    for sent in spans:
        hour = datetime.fromisoformat(sent["start_time"]).replace(minute=0, second=0, microsecond=0)
        key = (hour.isoformat().replace("+00:00", "Z"), sent["model"])
        durations.setdefault(key, []).append(Decimal(str(sent["duration_ms"])))
    assert {(row["timestamp"], row["model"]) for row in in_parts["data"]} == set(durations)
    for row in in_parts["data"]:
        values = durations[(row["timestamp"], row["model"])]
        for name, q in (("duration_p50", 0.5), ("duration_p95", 0.95), ("duration_p99", 0.99)):
            exact = nearest_rank(values, q)
            assert abs(Decimal(str(row[name])) - exact) <= exact * Decimal("0.01"), (row, name, exact)


@pytest.mark.django_db
@pytest.mark.parametrize("timezone", ["UTC", "Asia/Kolkata", "America/New_York"])
@pytest.mark.parametrize(
    "sort_by", [{"field": "p95", "descending": True}, {"field": "timestamp", "descending": False}, None]
)
def test_parts_apply_having_sorting_and_the_limit_as_one_query_does(org, monkeypatch, timezone, sort_by):
    # given: four days of spans from two providers, some failing
    rng = random.Random(11)
    ingest(
        org,
        [
            span(
                START + timedelta(seconds=rng.uniform(0, 4 * 86400)),
                provider=rng.choice(["openai", "anthropic", "google"]),
                model=rng.choice(["m-1", "m-2", "m-3"]),
                duration_ms=round(rng.lognormvariate(6, 1), 3),
                status_code=rng.choice(["OK", "OK", "ERROR"]),
                total_cost_usd=f"{rng.randint(1, 10**6) / 10**8:.8f}",
            )
            for _ in range(1200)
        ],
    )
    body = {
        "metrics": [
            {"metric": "request_count", "alias": "n"},
            {"metric": "duration", "aggregation": "p95", "alias": "p95"},
            {"metric": "total_cost", "aggregation": "sum", "alias": "cost"},
            {"metric": "error_rate", "alias": "errors"},
        ],
        "interval": "1hour",
        "start_time": (START + timedelta(minutes=20)).isoformat(),
        "end_time": (START + timedelta(days=4)).isoformat(),
        "timezone": timezone,
        "group_by": ["model"],
        "filters": [{"dimension": "provider", "operator": "in", "value": ["openai", "anthropic"]}],
        "having": [{"metric": "request_count", "aggregation": "sum", "operator": "gte", "value": 2}],
        "limit": 60,
        **({"sort_by": sort_by} if sort_by else {}),
    }
    query = parse.query_from_body(body, org_id=org.pk)
    monkeypatch.setattr(runner, "PARTS", 3)
    assert len(runner.plan_parts(query)) == 3
    # when
    in_parts = runner.run_query(query)
    monkeypatch.setattr(runner, "PARTS", 1)
    whole = runner.run_query(query)
    # then
    assert in_parts.rows == whole.rows
    assert in_parts.truncated and whole.truncated  # more rows pass HAVING than the limit
    assert in_parts.data_source == whole.data_source
    assert all(row["n"] >= 2 for row in in_parts.rows)


@pytest.mark.parametrize(
    "value, operator, threshold, passes",
    [
        (0.1, "eq", "0.1", True),  # as the answer shows it: 0.1, not the binary 0.1000000000000000055…
        (0.1 + 0.2, "eq", "0.30000000000000004", True),
        (0.1 + 0.2, "lte", "0.3", False),
        (5, "eq", "5.0", True),  # counts are ints
        (5, "gt", "4.999999999999999999", True),  # compared exactly, not through a float
        (Decimal("0.0000000001"), "gt", "0", True),  # money is a Decimal
        (Decimal("0.0000000001"), "lt", "0.00000000010", False),
        (None, "gte", "0", False),  # no value never passes
    ],
)
def test_having_in_python_compares_values_as_answered(value, operator, threshold, passes):
    query = parse.query_from_body(
        {
            "metrics": [{"metric": "request_count"}],
            "start_time": "2026-11-01T00:00:00Z",
            "end_time": "2026-11-02T00:00:00Z",
            "having": [{"metric": "request_count", "aggregation": "sum", "operator": operator, "value": threshold}],
        },
        org_id=1,
    )
    assert runner.select_and_order([(value,)], {"_having_0": 0}, query) == ([(value,)] if passes else [])
