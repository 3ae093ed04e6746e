"""Identity numbers past the range of a 32-bit integer: ingest, folds and unique counts go on."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection

from metrics.query import sources
from metrics.query.parse import query_from_body
from metrics.rollups import fold, identities
from tests.metrics.factories import new_span_id, new_trace_id, number_identities_from, queued_spans_of, stored_spans

pytestmark = pytest.mark.django_db

INT32_MAX = 2**31 - 1
METRICS = [
    {"metric": "unique_users", "alias": "users"},
    {"metric": "unique_sessions", "alias": "sessions"},
]


def stored_numbers(org_id: int, kind: str) -> dict[str, int]:
    """The organization's users or sessions with their numbers, as stored."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT value, ordinal FROM llm_identities WHERE org_id = %s AND kind = %s", [org_id, kind])
        return dict(cursor.fetchall())


def test_numbers_past_the_32_bit_range_keep_ingest_folds_and_unique_counts_exact(
    org, api_key_client, make_member, client_for
):
    # given: an organization that has already numbered all but six of 2^31 users and sessions
    # (a session id per call reaches that in 30 hours at 20,000 spans/s)
    number_identities_from(org.pk, INT32_MAX - 5)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    spans = [
        {
            "trace_id": new_trace_id(),
            "span_id": new_span_id(),
            "start_time": (hour + timedelta(minutes=4 * n + 1)).isoformat(),
            "provider": "openai",
            "model": "gpt-4o",
            "user_id": f"user-{n % 12}",
            "session_id": f"session-{n % 25}",
        }
        for n in range(30)  # two hours of spans
    ]
    # when: they arrive at the JSON door
    response = api_key_client(["spans:write"]).post("/api/v1/spans", {"spans": spans}, format="json")
    # then: stored, numbered past the integer range, and folded
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 30
    assert set(stored_numbers(org.pk, "user_id").values()) == set(range(INT32_MAX - 5, INT32_MAX + 7))
    assert set(stored_numbers(org.pk, "session_id").values()) == set(range(INT32_MAX - 5, INT32_MAX + 20))
    assert fold.queued_spans() == 0 and queued_spans_of(org.pk) == 0
    # and: unique counts from the hourly bitmaps, with the raw spans of a partial first hour, equal
    # a plain count of the stored spans
    client = client_for(make_member("developer", org))
    stored = stored_spans(org.pk)
    end = hour + timedelta(hours=2)
    for start, plan in ((hour, ["1hour"]), (hour + timedelta(minutes=30), ["1hour", "raw"])):
        body = {"metrics": METRICS, "interval": None, "start_time": start.isoformat(), "end_time": end.isoformat()}
        assert sorted({s.source for s in sources.plan_uniques(query_from_body(body, org_id=org.pk))}) == plan
        answer = client.post("/api/v1/metrics/query", data=orjson.dumps(body), content_type="application/json")
        assert answer.status_code == 200, answer.json()
        in_range = [s for s in stored if start <= s["ts"] < end]
        expected = (len({s["user_id"] for s in in_range}), len({s["session_id"] for s in in_range}))
        (row,) = answer.json()["data"]
        assert (row["users"], row["sessions"]) == expected


@pytest.mark.usefixtures("committed_db")
def test_the_numbers_a_process_remembers_stay_bounded_and_right(org, monkeypatch):
    # given: room for 100 remembered numbers, and batches of 60 new sessions each, numbered
    # outside a transaction (as ingest does), so that their numbers may be remembered
    monkeypatch.setattr(identities, "KNOWN_LIMIT", 100)
    for batch in range(4):
        sessions = [f"session-{batch}-{n}" for n in range(60)]
        # when
        numbers = identities.number_batch(org.pk, [], sessions)["session_id"]
        # then: the batch's numbers are the stored ones; the process remembers at most 100
        # numbers, this batch's among them, each as stored
        stored = stored_numbers(org.pk, "session_id")
        assert numbers == {value: stored[value] for value in sessions}
        remembered = {value: n for (org_id, _, value), n in identities._known.items() if org_id == org.pk}
        assert len(identities._known) <= 100
        assert set(sessions) <= set(remembered)
        assert all(stored[value] == n for value, n in remembered.items())


def test_a_batch_s_new_identities_are_numbered_by_one_prepared_statement(org):
    # given: three batches of new users and sessions, some not ASCII and some long
    batches = [
        ([f"user-{n}-é" for n in range(3)], [f"session-{n}-{'x' * 200 * n}" for n in range(5)]),
        (["user-0-é", "ユーザー"], ["session-new", None]),
        ([None], ["session-0-", "セッション-" + "y" * 70_000]),
    ]
    for users, sessions in batches:
        # when
        numbers = identities.number_batch(org.pk, users, sessions)
        # then: every identity of the batch has the number stored for it
        stored_users, stored_sessions = stored_numbers(org.pk, "user_id"), stored_numbers(org.pk, "session_id")
        assert numbers["user_id"] == {value: stored_users[value] for value in users if value is not None}
        assert numbers["session_id"] == {value: stored_sessions[value] for value in sessions if value is not None}
    # and: each user and session was numbered once, and one prepared statement did it all
    assert sorted(stored_numbers(org.pk, "user_id").values()) == list(range(4))
    assert sorted(stored_numbers(org.pk, "session_id").values()) == list(range(7))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%identity_ordinals%"],
        )
        assert cursor.fetchall() == [(3,)]
