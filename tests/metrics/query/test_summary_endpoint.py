"""GET /api/v1/metrics/summary against numbers worked out by hand from the known spans."""

import csv
import io
from datetime import datetime, timedelta

import pytest

from tests.metrics.query.conftest import DAY, ingest, span

URL = "/api/v1/metrics/summary"
pytestmark = pytest.mark.django_db
RANGE = {"start_time": "2026-11-20T00:00:00Z", "end_time": "2026-11-21T00:00:00Z"}


def test_current_period_totals(reader, known_spans):
    body = reader.get(URL, RANGE).json()
    current = body["current_period"]
    assert current["start_time"] == "2026-11-20T00:00:00Z"
    assert current["total_requests"] == 10
    assert current["total_cost_usd"] == 0.055
    assert current["total_tokens"] == 10 * 110
    assert current["avg_duration_ms"] == 550.0
    assert abs(current["p95_duration_ms"] - 1000) / 1000 <= 0.01
    assert current["error_rate"] == 0.2
    assert current["success_rate"] == 0.8
    assert (current["unique_users"], current["unique_sessions"]) == (3, 2)


def test_previous_period_and_changes(reader, org, known_spans):
    # the day before: 4 calls at 0.01 each, 2 of them errors
    ingest(org, [span(DAY - timedelta(hours=h + 1), status_code="ERROR" if h < 2 else "OK") for h in range(4)])
    body = reader.get(URL, RANGE).json()
    previous = body["previous_period"]
    assert previous["start_time"] == "2026-11-19T00:00:00Z"
    assert previous["total_requests"] == 4
    assert body["changes"]["requests_change_pct"] == 150.0  # 4 → 10
    assert body["changes"]["cost_change_pct"] == 37.5  # 0.04 → 0.055
    assert body["changes"]["error_rate_change_pct"] == -60.0  # 0.5 → 0.2
    assert body["changes"]["duration_change_pct"] == 450.0  # 100 → 550


def test_changes_are_null_when_the_previous_value_is_zero(reader, known_spans):
    body = reader.get(URL, RANGE).json()
    assert body["previous_period"]["total_requests"] == 0
    assert set(body["changes"].values()) == {None}


def test_no_comparison_when_asked(reader, known_spans):
    body = reader.get(URL, {**RANGE, "compare_previous_period": "false"}).json()
    assert body["previous_period"] is None
    assert set(body["changes"].values()) == {None}


def test_top_items(reader, known_spans):
    top = reader.get(URL, {**RANGE, "top_n": "1"}).json()["top_items"]
    # openai: costs 0.001..0.006 = 0.021 of 0.055; anthropic: 0.007..0.010 = 0.034
    assert top["by_cost"] == [
        {"provider": "anthropic", "model": "claude-3-5-sonnet", "value": 0.034, "percentage": 61.82}
    ]
    assert top["by_requests"] == [{"provider": "openai", "model": "gpt-4o", "value": 6, "percentage": 60.0}]
    # anthropic: avg 850 ms over 4 calls = 3400 of 5500 ms spent
    assert top["by_duration"] == [
        {"provider": "anthropic", "model": "claude-3-5-sonnet", "value": 850.0, "percentage": 61.82}
    ]
    assert top["by_errors"] == [{"provider": "openai", "model": "gpt-4o", "value": 2, "percentage": 100.0}]


def test_quality_and_most_common_errors(reader, org, known_spans):
    ingest(
        org, [span(DAY + timedelta(hours=20), status_code="ERROR", error_type="Timeout", error_message="took too long")]
    )
    quality = reader.get(URL, RANGE).json()["quality"]
    assert (quality["error_count"], quality["success_count"]) == (3, 8)
    assert quality["most_common_errors"] == [
        {
            "status_code": "ERROR",
            "error_type": "RateLimitError",
            "count": 2,
            "percentage": 66.67,
            "sample_message": "Rate limit reached",
        },
        {
            "status_code": "ERROR",
            "error_type": "Timeout",
            "count": 1,
            "percentage": 33.33,
            "sample_message": "took too long",
        },
    ]


def test_filters_narrow_every_part(reader, known_spans):
    body = reader.get(URL, {**RANGE, "provider": "anthropic"}).json()
    assert body["current_period"]["total_requests"] == 4
    assert body["quality"]["error_count"] == 0
    assert [item["provider"] for item in body["top_items"]["by_requests"]] == ["anthropic"]


def test_summary_csv_has_one_row_per_period(reader, known_spans):
    response = reader.get(URL, {**RANGE, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["period"] for row in rows] == ["current", "previous"]
    assert rows[0]["total_requests"] == "10"
    assert list(rows[0])[:3] == ["period", "start_time", "end_time"]


@pytest.mark.usefixtures("committed_db")
def test_outside_a_transaction_the_summary_queries_run_in_parallel_with_the_same_answer(reader, known_spans):
    from metrics.query import parallel

    try:
        body = reader.get(URL, {**RANGE, "top_n": "1"}).json()
    finally:
        parallel.close_connections()
    assert body["current_period"]["total_requests"] == 10
    assert body["current_period"]["unique_users"] == 3
    assert body["previous_period"]["total_requests"] == 0
    assert body["top_items"]["by_requests"] == [
        {"provider": "openai", "model": "gpt-4o", "value": 6, "percentage": 60.0}
    ]
    assert body["quality"]["error_count"] == 2


@pytest.mark.parametrize("filters", [{}, {"provider": "openai"}, {"provider": "anthropic"}])
def test_most_common_errors_from_rollups_and_raw_edges_equal_a_plain_count(reader, org, filters):
    # given: failures of several types over two days, some in the partial hours at the range's edges
    failures = []
    for i in range(60):
        failures.append(
            span(
                DAY + timedelta(minutes=37 * i),
                provider=["openai", "anthropic"][i % 2],
                status_code="ERROR",
                error_type=["Timeout", "RateLimitError", None, ""][i % 4],
                error_message=None if i % 5 == 0 else f"failure {i:02d}",
            )
        )
    ingest(org, failures)
    start, end = DAY + timedelta(hours=3, minutes=10), DAY + timedelta(days=1, hours=9, minutes=50)
    # when
    params = {"start_time": start.isoformat(), "end_time": end.isoformat(), **filters}
    got = reader.get(URL, params).json()["quality"]["most_common_errors"]
    # then: the same as counting the failed spans of the range one by one
    chosen = [
        f
        for f in failures
        if start <= datetime.fromisoformat(f["start_time"]) < end
        and f["provider"] == filters.get("provider", f["provider"])
    ]
    expected: dict[str, list] = {}
    for f in chosen:
        entry = expected.setdefault(f.get("error_type") or "unknown", [0, None])
        entry[0] += 1
        if f.get("error_message") and (entry[1] is None or f["error_message"] < entry[1]):
            entry[1] = f["error_message"]
    ranked = sorted(expected.items(), key=lambda item: (-item[1][0], item[0]))
    assert [(e["error_type"], e["count"], e["sample_message"]) for e in got] == [(t, n, m) for t, (n, m) in ranked]
    assert sum(e["count"] for e in got) == len(chosen)


def test_shares_round_halves_up_as_postgresql_does(reader, org):
    # given: 32 calls, one of them to a second model: exactly 3.125 % and 96.875 %
    ingest(org, [span(DAY + timedelta(minutes=i), model="gpt-4o" if i else "o3") for i in range(32)])
    # when
    top = reader.get(URL, {"start_time": DAY.isoformat(), "end_time": (DAY + timedelta(days=1)).isoformat()})
    # then: the shares PostgreSQL's round(numeric, 2) gives (a binary float rounded half to even: 3.12)
    shares = {item["model"]: item["percentage"] for item in top.json()["top_items"]["by_requests"]}
    assert shares == {"gpt-4o": 96.88, "o3": 3.13}
