"""Hostile input, generated: whatever a client puts in a field, the answer is a 2xx or a 4xx in the
error envelope, never a 500 (SPEC §13), and whatever the doors accept reaches the rollups (the
fold after the commit leaves nothing queued). Each test draws values of every kind (any Unicode
including NUL, integers past 64 bits, floats, nested lists and objects, timestamps at the ends
of the calendar, SQL) for the fields of one door."""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from rest_framework.test import APIClient

from metrics.ingest.validation import ALLOWED_FIELDS
from metrics.query.parse import BODY_KEYS, GET_PARAMS
from metrics.query.summary_params import SUMMARY_PARAMS
from metrics.rollups.fold import queued_spans
from tests.metrics.factories import json_span

pytestmark = pytest.mark.django_db

EDGE_STRINGS = (
    "",
    "NaN",
    "Infinity",
    "-1",
    "1e400",
    "1e-400",
    "18446744073709551616",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "99999-01-01T00:00:00Z",
    "2026-11-27T00:00:00+99:00",
    "../../etc/passwd",
    "x'); DROP TABLE llm_traces; --",
    "a\x00b",
    "\x00",
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)  # any code point a request can carry, NUL included
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EDGE_STRINGS),
    TEXT,
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
HOSTILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400 and response["Content-Type"].startswith("application/json"):
        body = json.loads(response.content)
        assert "error" in body or "message" in body, body  # the envelope, or an OTLP Status


def assert_stored_spans_folded(response: Any) -> None:
    """An ingest answer, and then nothing left in the rollup queue: a span the fold cannot take
    would be acknowledged yet never counted (the fold's own failures are only logged)."""
    assert_no_server_error(response)
    assert queued_spans() == 0


def dumps(document: Any) -> bytes:
    # json, not orjson: integers past 64 bits must reach the server as a client could send them
    return json.dumps(document).encode()


@HOSTILE
@given(overrides=st.dictionaries(st.sampled_from(sorted(ALLOWED_FIELDS) + ["other"]), VALUES, max_size=4))
def test_the_json_door(api_key_client, overrides):
    writer = api_key_client(["spans:write"])
    body = dumps({"spans": [json_span(), {**json_span(), **overrides}]})
    assert_stored_spans_folded(writer.post("/api/v1/spans", data=body, content_type="application/json"))


ANY_VALUE = st.one_of(
    st.builds(lambda v: {"stringValue": v}, st.one_of(TEXT, st.sampled_from(EDGE_STRINGS))),
    st.builds(lambda v: {"intValue": str(v)}, st.integers(min_value=-(2**70), max_value=2**70)),
    st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.builds(lambda v: {"arrayValue": {"values": [{"stringValue": x} for x in v]}}, st.lists(TEXT, max_size=3)),
    VALUES,
)
ATTRIBUTE_NAMES = st.sampled_from(
    [
        "gen_ai.request.model",
        "gen_ai.provider.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.time_to_first_chunk",
        "ai.response.msToFirstChunk",
        "langfuse.observation.completion_start_time",
        "langfuse.observation.usage_details",
        "langfuse.observation.cost_details",
        "llm.cost.total",
        "gen_ai.usage.cost",
        "user.id",
        "session.id",
        "error.type",
        "deployment.environment.name",
        "gen_ai.response.finish_reasons",
    ]
)
NANOS = st.one_of(st.integers(min_value=-(2**70), max_value=2**80).map(str), st.sampled_from(EDGE_STRINGS), st.none())


@HOSTILE
@given(
    attributes=st.lists(st.tuples(st.one_of(ATTRIBUTE_NAMES, TEXT), ANY_VALUE), max_size=6),
    start=NANOS,
    end=NANOS,
    event_time=NANOS,
    name=st.one_of(TEXT, VALUES),
)
def test_the_otlp_door(api_key_client, attributes, start, end, event_time, name):
    writer = api_key_client(["spans:write"])
    now = time.time_ns()
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": name,
        "startTimeUnixNano": str(now) if start is None else start,
        "endTimeUnixNano": str(now + 10**9) if end is None else end,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            *({"key": key, "value": value} for key, value in attributes),
        ],
        "events": [{"name": "ai.stream.firstChunk", "timeUnixNano": event_time}],
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    assert_stored_spans_folded(writer.post("/v1/traces", data=dumps(document), content_type="application/json"))


@HOSTILE
@given(params=st.dictionaries(st.sampled_from(sorted(GET_PARAMS | SUMMARY_PARAMS) + ["other"]), TEXT, max_size=5))
def test_the_get_endpoints(api_key_client, params):
    reader = api_key_client(["metrics:read"])
    assert_no_server_error(reader.get("/api/v1/metrics", params))
    assert_no_server_error(reader.get("/api/v1/metrics/summary", params))


@HOSTILE
@given(overrides=st.dictionaries(st.sampled_from(sorted(BODY_KEYS) + ["other"]), VALUES, max_size=4))
def test_the_query_endpoint(api_key_client, overrides):
    querier = api_key_client(["metrics:read", "metrics:query"])
    now = datetime.now(UTC)
    body = {
        "start_time": (now - timedelta(days=1)).isoformat(),
        "end_time": now.isoformat(),
        "metrics": [{"metric": "request_count"}],
        **overrides,
    }
    assert_no_server_error(querier.post("/api/v1/metrics/query", data=dumps(body), content_type="application/json"))


@HOSTILE
@given(
    body=st.dictionaries(st.sampled_from(["username", "password", "organization", "refresh", "other"]), VALUES),
    key_body=st.dictionaries(st.sampled_from(["name", "scopes", "other"]), VALUES),
    key_id=st.integers(min_value=0, max_value=2**80),
    # WSGI hands header values over as latin-1: a client cannot send other characters in one
    credential=st.one_of(st.text(st.characters(max_codepoint=255), max_size=40), st.sampled_from(EDGE_STRINGS)),
)
def test_the_auth_and_api_key_endpoints(org, make_member, client_for, body, key_body, key_id, credential):
    anonymous = APIClient()
    assert_no_server_error(anonymous.post("/api/v1/auth/token", data=dumps(body), content_type="application/json"))
    assert_no_server_error(
        anonymous.post("/api/v1/auth/token/refresh", data=dumps(body), content_type="application/json")
    )
    assert_no_server_error(anonymous.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {credential}"))
    assert_no_server_error(anonymous.get("/api/v1/metrics", HTTP_X_API_KEY=credential))
    admin = client_for(make_member("admin", org, username="hostile-admin"))
    assert_no_server_error(admin.post("/api/v1/api-keys", data=dumps(key_body), content_type="application/json"))
    assert_no_server_error(admin.delete(f"/api/v1/api-keys/{key_id}"))


PB_VALUES = st.recursive(
    st.one_of(
        st.builds(lambda v: common_pb2.AnyValue(string_value=v), st.one_of(TEXT, st.sampled_from(EDGE_STRINGS))),
        st.builds(lambda v: common_pb2.AnyValue(int_value=v), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        st.builds(lambda v: common_pb2.AnyValue(double_value=v), st.floats()),  # NaN and infinities too
        st.builds(lambda v: common_pb2.AnyValue(bool_value=v), st.booleans()),
        st.builds(lambda v: common_pb2.AnyValue(bytes_value=v), st.binary(max_size=20)),
        st.just(common_pb2.AnyValue()),
    ),
    lambda inner: st.one_of(
        st.builds(
            lambda vs: common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=vs)), st.lists(inner, max_size=3)
        ),
        st.builds(
            lambda kvs: common_pb2.AnyValue(
                kvlist_value=common_pb2.KeyValueList(values=[common_pb2.KeyValue(key=k, value=v) for k, v in kvs])
            ),
            st.lists(st.tuples(TEXT, inner), max_size=3),
        ),
    ),
    max_leaves=6,
)
# Mostly the values a real span has, so that most examples get past the ids and times to the
# mapping and the storing; now and then anything the field can hold.
UINT64 = st.one_of(st.integers(min_value=0, max_value=2**64 - 1), st.just(time.time_ns() - 60 * 10**9))
RECENT = st.integers(min_value=time.time_ns() - 3600 * 10**9, max_value=time.time_ns())
IDS = st.tuples(
    st.one_of(st.integers(1, 2**128 - 1).map(lambda n: n.to_bytes(16, "big")), st.binary(max_size=20)),
    st.one_of(st.integers(1, 2**64 - 1).map(lambda n: n.to_bytes(8, "big")), st.binary(max_size=12)),
    st.one_of(st.just(b""), st.binary(max_size=12)),
)


@HOSTILE
@given(
    attributes=st.lists(st.tuples(st.one_of(ATTRIBUTE_NAMES, TEXT), PB_VALUES), max_size=6),
    start=st.one_of(RECENT, RECENT, UINT64),
    end=st.one_of(RECENT, UINT64),
    event_time=st.one_of(RECENT, UINT64),
    ids=IDS,
    status=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    name=TEXT,
)
def test_the_otlp_protobuf_door(api_key_client, attributes, start, end, event_time, ids, status, name):
    writer = api_key_client(["spans:write"])
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.parent_span_id = ids
    span.name, span.start_time_unix_nano, span.end_time_unix_nano = name, start, end
    span.status.code, span.status.message = status, name
    span.attributes.append(
        common_pb2.KeyValue(key="gen_ai.operation.name", value=common_pb2.AnyValue(string_value="chat"))
    )
    span.attributes.extend(common_pb2.KeyValue(key=key, value=value) for key, value in attributes)
    span.events.add(name="ai.stream.firstChunk", time_unix_nano=event_time)
    body = request.SerializeToString()
    assert_stored_spans_folded(writer.post("/v1/traces", data=body, content_type="application/x-protobuf"))
