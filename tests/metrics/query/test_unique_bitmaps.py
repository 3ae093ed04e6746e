"""Unique users and sessions from the identity bitmaps (no dimension in play) equal a plain count.

Many identities, spread so that most appear both inside the bitmap buckets and in the raw
edges of unaligned ranges: an identity must be counted once however many pieces it is in.
"""

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from metrics.query import sources
from metrics.query.parse import query_from_body
from metrics.rollups.measures import BITMAP_CHUNK_BITS
from tests.metrics.factories import number_identities_from, stored_spans
from tests.metrics.query.oracle import expected_rows

pytestmark = pytest.mark.django_db

DATA_START = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
METRICS = [
    {"metric": "unique_users", "alias": "users"},
    {"metric": "unique_sessions", "alias": "sessions"},
    {"metric": "request_count", "alias": "requests"},
]


@pytest.fixture
def many_identities(org):
    # The 60 users and 150 sessions get numbers across the end of a bitmap chunk.
    number_identities_from(org.pk, BITMAP_CHUNK_BITS - 30)
    rng = random.Random(11)
    spans = []
    for _ in range(400):
        ts = DATA_START + timedelta(seconds=rng.uniform(0, 3 * 86400))
        spans.append(
            {
                "trace_id": f"{rng.getrandbits(128) | 1:032x}",
                "span_id": f"{rng.getrandbits(64) | 1:016x}",
                "start_time": ts.isoformat(),
                "provider": "p",
                "model": rng.choice(["a", "b"]),
                "user_id": rng.choice([f"user-{n}" for n in range(60)] + [None]),
                "session_id": rng.choice([f"session-{n}" for n in range(150)] + [None]),
            }
        )
    rng.shuffle(spans)  # identities get their numbers in arrival order, not time order
    for start in range(0, len(spans), 50):
        batch = spans[start : start + 50]
        pipeline.ingest(org, [(i, parse_json_span(s)) for i, s in enumerate(batch)])
    return stored_spans(org.pk)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start_offset=st.integers(0, 2 * 86400),
    length=st.integers(3600, 3 * 86400),
    aligned=st.booleans(),
    interval=st.sampled_from([None, "1hour", "1day"]),
    timezone=st.sampled_from(["UTC", "Asia/Kolkata"]),
)
def test_unique_counts_from_bitmaps_equal_a_plain_count(
    many_identities, org, make_member, client_for, start_offset, length, aligned, interval, timezone
):
    start = DATA_START + timedelta(seconds=start_offset)
    end = start + timedelta(seconds=length)
    if aligned:
        start, end = (datetime.fromtimestamp(int(t.timestamp()) // 3600 * 3600, tz=UTC) for t in (start, end))
    body = {
        "metrics": METRICS,
        "interval": interval,
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "timezone": timezone,
        "limit": 10_000,
    }
    client = client_for(make_member("developer", org, username="bitmap-dev"))
    # when
    response = client.post("/api/v1/metrics/query", data=orjson.dumps(body), content_type="application/json")
    # then
    assert response.status_code == 200, response.json()
    expected = expected_rows(many_identities, dict(body, group_by=[], filters=[], start=start, end=end))
    actual = {
        datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")) if interval else None: row
        for row in response.json()["data"]
    }
    assert set(actual) == {key[0] if interval else None for key in expected}
    for key, row in expected.items():
        got = actual[key[0] if interval else None]
        assert (got["users"], got["sessions"], got["requests"]) == (row["users"], row["sessions"], row["requests"])


def test_the_identities_fill_two_bitmap_chunks(many_identities, org):
    with connection.cursor() as cursor:
        for table in ("llm_users_bitmap_1day", "llm_sessions_bitmap_1hour"):
            cursor.execute(f"SELECT DISTINCT chunk FROM {table} WHERE org_id = %s", [org.pk])
            assert {chunk for (chunk,) in cursor.fetchall()} == {0, 1}, table


def test_whole_days_and_hours_are_answered_from_the_bitmaps(org):
    def plan(interval: str | None) -> list[str]:
        body = {"metrics": METRICS, "interval": interval}
        body.update(start_time="2026-11-20T05:00:00Z", end_time="2026-11-22T07:30:00Z")
        return [s.source for s in sources.plan_uniques(query_from_body(body, org_id=org.pk))]

    assert plan(None) == ["1day", "1hour", "1hour", "raw"]
    assert plan("1hour") == ["1hour", "raw"]
    filtered = query_from_body(
        {
            "metrics": METRICS,
            "interval": "1day",
            "start_time": "2026-11-20T00:00:00Z",
            "end_time": "2026-11-22T00:00:00Z",
            "filters": [{"dimension": "model", "operator": "eq", "value": "a"}],
        },
        org_id=org.pk,
    )
    assert [s.source for s in sources.plan_uniques(filtered)] == [sources.ACTIVITY_SOURCE]
