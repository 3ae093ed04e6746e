"""POST /api/v1/spans: the JSON door, its answers and its refusals."""

import gzip
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from django.db import connection
from rest_framework.test import APIClient

from metrics.ingest import validation
from metrics.rollups.measures import ROLLUPS
from observatory import errors
from tests.metrics.factories import json_span, money, rollup_rows, stored_spans

URL = "/api/v1/spans"

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(api_key_client):
    return api_key_client(["spans:write"])


def post(client: APIClient, spans, **extra):
    return client.post(URL, data=orjson.dumps({"spans": spans}), content_type="application/json", **extra)


def test_a_valid_batch_is_stored_with_every_field(writer, org):
    # given
    span = json_span(
        cache_read_tokens=300,
        reasoning_tokens=50,
        ttft_ms=120.25,
        finish_reason="stop",
        tags=["beta", "chat"],
        attributes={"feature": "search"},
        total_cost_usd=0.0123456789,
        prompt_cost_usd=0.01,
        completion_cost_usd=0.0023456789,
    )
    # when
    response = post(writer, [span])
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    (row,) = stored_spans(org.pk)
    assert row["trace_id"] == span["trace_id"] and row["span_id"] == span["span_id"]
    assert row["ts"] == datetime.fromisoformat(span["start_time"])
    assert row["duration_ms"] == Decimal("850.500")
    assert row["ttft_ms"] == Decimal("120.250")
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1000, 200, 1200)
    assert (row["cache_read_tokens"], row["reasoning_tokens"]) == (300, 50)
    assert row["total_cost"] == money("0.0123456789")
    assert row["tags"] == ["beta", "chat"]
    assert row["finish_reason"] == "stop"
    assert (row["user_id"], row["session_id"], row["environment"]) == ("user-1", "session-1", "production")


def test_costs_whose_decimal_text_has_an_exponent_are_stored_exactly(writer, org):
    # given: costs whose Decimal text has an exponent ('1E-7', '1E+5'), as they travel
    # to PostgreSQL
    span = json_span(prompt_cost_usd=1e-07, completion_cost_usd=2.5e-05, total_cost_usd="1E+5")
    # when
    assert post(writer, [span]).status_code == 200
    # then
    (row,) = stored_spans(org.pk)
    assert row["prompt_cost"] == money("0.0000001")
    assert row["completion_cost"] == money("0.000025")
    assert row["total_cost"] == money("100000")


def test_a_batch_mixing_present_and_absent_fields_stores_each_span_as_sent(writer, org):
    # given: one span with tags, reasoning tokens and no user; one with none of them and a user;
    # no span has cache tokens (that column travels as one NULL, and the tag-less span's tags too)
    tagged = json_span(tags=["beta"], reasoning_tokens=7, user_id=None)
    plain = json_span(user_id="user-2")
    # when
    assert post(writer, [tagged, plain]).json()["accepted"] == 2
    # then
    rows = {row["span_id"]: row for row in stored_spans(org.pk)}
    first, second = rows[tagged["span_id"]], rows[plain["span_id"]]
    assert (first["tags"], second["tags"]) == (["beta"], [])
    assert (first["reasoning_tokens"], second["reasoning_tokens"]) == (7, None)
    assert (first["user_id"], second["user_id"]) == (None, "user-2")
    assert first["cache_read_tokens"] is None and second["cache_read_tokens"] is None
    assert (first["total_tokens"], second["total_tokens"]) == (1200, 1200)


def test_a_batch_without_any_user_or_session_is_stored_and_counted(writer, org):
    spans = [json_span(user_id=None, session_id=None), json_span(user_id=None, session_id=None)]
    assert post(writer, spans).json()["accepted"] == 2
    assert [(row["user_id"], row["session_id"]) for row in stored_spans(org.pk)] == [(None, None)] * 2
    assert sum(row["request_count"] for row in rollup_rows("llm_metrics_1day", org.pk)) == 2


def test_a_resent_batch_changes_nothing(writer, org):
    spans = [json_span(), json_span()]
    assert post(writer, spans).json()["accepted"] == 2
    before = rollup_rows("llm_metrics_1min", org.pk)
    again = post(writer, spans)
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert len(stored_spans(org.pk)) == 2
    assert rollup_rows("llm_metrics_1min", org.pk) == before


def test_a_batch_with_stored_and_repeated_spans_stores_each_new_span_once_as_first_sent(writer, org):
    # given: one span stored; a batch repeating it, and a new span twice with different tokens
    stored = json_span(prompt_tokens=1)
    assert post(writer, [stored]).json()["accepted"] == 1
    new = json_span(prompt_tokens=2)
    repeated_new = {**new, "prompt_tokens": 3}
    other = json_span(prompt_tokens=4)
    # when
    response = post(writer, [new, stored, repeated_new, other])
    # then
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 2, "rejected": []}
    rows = {row["span_id"]: row["prompt_tokens"] for row in stored_spans(org.pk)}
    assert rows == {stored["span_id"]: 1, new["span_id"]: 2, other["span_id"]: 4}
    assert sum(row["request_count"] for row in rollup_rows("llm_metrics_1day", org.pk)) == 3


def test_valid_spans_are_stored_when_others_are_rejected(writer, org):
    good = json_span()
    bad = json_span(prompt_tokens=-5)
    response = post(writer, [bad, good])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 0, "errors": [validation.MSG_TOKENS.format(name="prompt_tokens", maximum=validation.MAX_TOKENS)]}
    ]
    assert [r["span_id"] for r in stored_spans(org.pk)] == [good["span_id"]]


def test_token_counts_at_the_cap_are_stored_and_summed_exactly_and_past_it_refused(writer, org):
    cap = validation.MAX_TOKENS
    at_cap = [json_span(prompt_tokens=cap, completion_tokens=cap) for _ in range(3)]
    past_cap = json_span(completion_tokens=cap + 1)
    response = post(writer, [*at_cap, past_cap])
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 3
    assert response.json()["rejected"] == [
        {"index": 3, "errors": [validation.MSG_TOKENS.format(name="completion_tokens", maximum=cap)]}
    ]
    for table in ("llm_metrics_1hour", "llm_totals_1day", "llm_models_env_1day"):
        (row,) = rollup_rows(table, org.pk)
        assert (row["prompt_tokens_sum"], row["completion_tokens_sum"], row["total_tokens_sum"]) == (
            3 * cap,
            3 * cap,
            3 * 2 * cap,
        ), table


def test_the_token_cap_keeps_every_rollup_token_sum_within_bigint():
    """A day of one organization and model at 50,000 spans/s, each at the cap (its total twice
    that), fits every bigint token sum of the rollups: no fold can fail on it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns"
            " WHERE table_name = ANY(%s) AND column_name LIKE '%%tokens_sum'",
            [[r.table for r in ROLLUPS]],
        )
        types = {row[0] for row in cursor.fetchall()}
    assert types == {"bigint"}
    largest_per_span = 2 * validation.MAX_TOKENS  # total_tokens = prompt + completion when not sent
    assert largest_per_span * 50_000 * 86_400 <= 2**63 - 1


def test_a_span_without_cost_is_priced(writer, org):
    post(writer, [json_span(model="gpt-4o", prompt_tokens=1000, completion_tokens=500)])
    (row,) = stored_spans(org.pk)
    # gpt-4o: $2.50 / M input, $10 / M output (genai-prices' bundled data)
    assert row["prompt_cost"] == money("0.0025")
    assert row["completion_cost"] == money("0.005")
    assert row["total_cost"] == money("0.0075")


def test_a_span_of_an_unknown_model_keeps_no_cost(writer, org):
    post(writer, [json_span(provider="acme-llm", model="mystery-1")])
    (row,) = stored_spans(org.pk)
    assert row["total_cost"] is None and row["prompt_cost"] is None


def test_end_time_gives_the_duration(writer, org):
    start = datetime.now(UTC) - timedelta(minutes=1)
    end = start + timedelta(seconds=2.5)
    span = json_span(duration_ms=None, start_time=start.isoformat(), end_time=end.isoformat())
    post(writer, [span])
    assert stored_spans(org.pk)[0]["duration_ms"] == Decimal("2500.000")


def test_gzip_bodies_are_accepted(writer, org):
    body = gzip.compress(orjson.dumps({"spans": [json_span()]}))
    response = writer.post(URL, data=body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_an_error_described_but_not_flagged_is_an_error(writer, org):
    post(writer, [json_span(status_code=None, error_type="RateLimitError", error_message="slow down")])
    assert stored_spans(org.pk)[0]["status_code"] == "ERROR"


def nested(value: dict, levels: int) -> dict:
    """`value` wrapped in `levels` more objects."""
    for _ in range(levels):
        value = {"a": value}
    return value


NOW = datetime.now(UTC)
BAD_SPANS = {
    "negative-tokens": (json_span(prompt_tokens=-1), "prompt_tokens"),
    "fractional-tokens": (json_span(completion_tokens=1.5), "completion_tokens"),
    "bool-tokens": (json_span(completion_tokens=True), "completion_tokens"),
    "missing-model": (json_span(model=None), "model is required"),
    "missing-trace": (json_span(trace_id=None), "trace_id is required"),
    "short-trace-id": (json_span(trace_id="abc"), "trace_id must be 32"),
    "zero-span-id": (json_span(span_id="0" * 16), "must not be all zeros"),
    "sql-in-id": (json_span(span_id="1'; DROP TABLE llm_traces; --"), "span_id must be 16"),
    "bad-time": (json_span(start_time="yesterday"), "start_time must be an ISO 8601"),
    "year-1970": (json_span(start_time="1970-01-01T00:00:00Z"), "older than the organization's retention"),
    "year-2200": (json_span(start_time="2200-01-01T00:00:00Z"), "in the future"),
    "end-before-start": (
        json_span(duration_ms=None, start_time=NOW.isoformat(), end_time=(NOW - timedelta(seconds=1)).isoformat()),
        "duration_ms or end_time",
    ),
    "end-years-after-start": (
        json_span(duration_ms=None, start_time=NOW.isoformat(), end_time="9999-12-31T23:59:59Z"),
        "longer than a span can last",
    ),
    "offset-before-year-1": (json_span(start_time="0001-01-01T00:00:00+05:00"), "start_time must be an ISO 8601"),
    "offset-after-year-9999": (json_span(start_time="9999-12-31T23:59:59-05:00"), "start_time must be an ISO 8601"),
    "huge-ttft": (json_span(ttft_ms="1e400"), "ttft_ms must be a number"),
    "negative-cost": (json_span(total_cost_usd=-0.5), "total_cost_usd"),
    "nan-cost": (json_span(total_cost_usd="NaN"), "total_cost_usd"),
    "bad-status": (json_span(status_code="BROKEN"), "status_code must be one of"),
    "unknown-field": (json_span(drop_table="x"), "unknown field 'drop_table'"),
    "cache-over-prompt": (json_span(prompt_tokens=10, cache_read_tokens=20), "cannot exceed prompt_tokens"),
    "reasoning-over-completion": (json_span(completion_tokens=10, reasoning_tokens=20), "cannot exceed completion"),
    "huge-provider": (json_span(provider="x" * 300), "provider must be a non-empty string"),
    "tags-not-list": (json_span(tags="a,b"), "tags must be a list"),
    "attributes-17-levels-deep": (json_span(attributes=nested({"x": 1}, 16)), "nested at most 16 levels"),
    "not-an-object": ("just a string", "each span must be a JSON object"),
}


def test_attributes_16_levels_deep_are_stored(writer, org):
    attributes = nested({"x": 1}, 15)
    assert post(writer, [json_span(attributes=attributes)]).status_code == 200
    assert stored_spans(org.pk)[0]["attributes"] == attributes


def test_attributes_a_thousand_levels_deep_are_refused_not_a_500(writer, org):
    # Built as text: Python's own JSON writer stops near a thousand levels, orjson's at 255.
    body = '{"spans": [' + orjson.dumps(json_span()).decode()[:-1] + ', "attributes": {"x": '
    body += "[" * 1000 + "1" + "]" * 1000 + "}}]}"
    response = writer.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert stored_spans(org.pk) == []


@pytest.mark.parametrize("case", BAD_SPANS.values(), ids=BAD_SPANS.keys())
def test_a_batch_of_only_bad_spans_is_400_and_stores_nothing(writer, org, case):
    span, expected = case
    response = post(writer, [span])
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"]["code"] == errors.VALIDATION_ERROR
    assert any(expected in d["message"] for d in body["error"]["details"]), body
    assert body["error"]["details"][0]["field"] == "spans[0]"
    assert stored_spans(org.pk) == []
    assert rollup_rows("llm_metrics_1min", org.pk) == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"spans": {}}', b'{"spans": [], "extra": 1}', b'"spans"'],
    ids=["malformed", "array", "spans-object", "extra-key", "string"],
)
def test_malformed_bodies_are_400(writer, body):
    response = writer.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == errors.VALIDATION_ERROR


def test_a_wrong_content_type_is_415(writer):
    response = writer.post(URL, data=b"spans", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == errors.UNSUPPORTED_MEDIA_TYPE


def test_too_many_spans_is_413(writer, settings):
    settings.INGEST_MAX_SPANS = 3
    response = post(writer, [json_span() for _ in range(4)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == errors.PAYLOAD_TOO_LARGE


def test_a_10_mb_body_is_413(writer, org):
    huge = orjson.dumps({"spans": [json_span(attributes={"blob": "x" * (10 * 1024 * 1024)})]})
    response = writer.post(URL, data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == errors.PAYLOAD_TOO_LARGE
    assert stored_spans(org.pk) == []


def test_a_gzip_bomb_is_413(writer, settings):
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 1024 * 1024
    bomb = gzip.compress(b"{" + b" " * (5 * 1024 * 1024) + b"}")
    response = writer.post(URL, data=bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413


@pytest.mark.parametrize("scopes", [["metrics:read"], ["metrics:read", "metrics:query"]])
def test_a_key_without_spans_write_is_403(api_key_client, scopes, org):
    response = post(api_key_client(scopes), [json_span()])
    assert response.status_code == 403
    assert stored_spans(org.pk) == []


def test_an_unknown_key_is_401(db):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="obs_unknown")
    assert post(client, [json_span()]).status_code == 401


def test_the_org_comes_from_the_key_never_the_body(api_key_client, org, other_org):
    client = api_key_client(["spans:write"], organization=other_org)
    response = post(client, [json_span(attributes={"org_id": org.pk})])
    assert response.status_code == 200
    assert stored_spans(org.pk) == []
    assert len(stored_spans(other_org.pk)) == 1


def test_a_developer_user_may_send_spans(org, make_member, client_for):
    assert post(client_for(make_member("developer", org)), [json_span()]).status_code == 200
    assert post(client_for(make_member("viewer", org)), [json_span()]).status_code == 403
