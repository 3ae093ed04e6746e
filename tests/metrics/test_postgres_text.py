"""NUL characters (which PostgreSQL text and jsonb cannot hold): stored as U+FFFD from both ingest
doors, and found again by a filter value written as it was sent, never a 500."""

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from metrics.postgres_text import any_nul, storable_json_value
from tests.metrics.factories import json_span, new_span_id, new_trace_id, stored_spans

pytestmark = pytest.mark.django_db

NUL = "\x00"
FFFD = "\ufffd"
# A literal backslash followed by "u0000": orjson writes it as the bytes that also spell an
# escaped NUL after a backslash, and it must be stored exactly as sent.
BACKSLASH_U0000 = "\\u0000"


@pytest.fixture
def writer(api_key_client):
    return api_key_client(["spans:write"])


@pytest.fixture
def querier(org, make_member, client_for):
    return client_for(make_member("developer", org))


def test_every_string_of_a_decoded_json_value_is_made_storable_keys_included():
    value = {"a\x00": ["b\x00", {"c": "d\x00e", "n": 1, "f": None}], "g": True, "h": BACKSLASH_U0000}
    assert storable_json_value(value) == {
        f"a{FFFD}": [f"b{FFFD}", {"c": f"d{FFFD}e", "n": 1, "f": None}],
        "g": True,
        "h": BACKSLASH_U0000,
    }


def test_any_nul_looks_at_every_value_and_skips_nones():
    assert any_nul([None, "a", "b\x00"])
    assert not any_nul([None, "a", BACKSLASH_U0000])
    assert not any_nul([None, None])


def test_the_json_door_stores_nul_characters_as_replacement_characters(writer, org):
    span = json_span(
        model=f"gpt{NUL}4o",
        span_name=f"chat{NUL}",
        user_id=f"user{NUL}1",
        status_code="ERROR",
        error_type="Boom",
        error_message=f"bad{NUL}thing",
        tags=[f"tag{NUL}"],
        attributes={f"key{NUL}": {"deep": [f"v{NUL}"]}, "escaped": BACKSLASH_U0000},
    )
    response = writer.post("/api/v1/spans", data=orjson.dumps({"spans": [span]}), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    (row,) = stored_spans(org.pk)
    assert (row["model"], row["span_name"], row["user_id"]) == (f"gpt{FFFD}4o", f"chat{FFFD}", f"user{FFFD}1")
    assert row["error_message"] == f"bad{FFFD}thing"
    assert row["tags"] == [f"tag{FFFD}"]
    assert row["attributes"] == {f"key{FFFD}": {"deep": [f"v{FFFD}"]}, "escaped": BACKSLASH_U0000}


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    item = common_pb2.KeyValue(key=key)
    if isinstance(value, str):
        item.value.string_value = value
    else:
        item.value.int_value = value
    return item


def test_the_otlp_door_stores_nul_characters_as_replacement_characters(writer, org):
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", f"bot{NUL}"))
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id = bytes.fromhex(new_trace_id()), bytes.fromhex(new_span_id())
    span.name = f"chat{NUL}"
    span.start_time_unix_nano = time.time_ns() - 60 * 10**9
    span.end_time_unix_nano = span.start_time_unix_nano + 10**9
    span.attributes.extend(
        [
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", "openai"),
            _kv("gen_ai.request.model", f"gpt{NUL}4o"),
            _kv("gen_ai.usage.input_tokens", 10),
            _kv("session.id", f"s{NUL}1"),
        ]
    )
    response = writer.post("/v1/traces", data=request.SerializeToString(), content_type="application/x-protobuf")
    assert response.status_code == 200, response.content
    (row,) = stored_spans(org.pk)
    assert (row["model"], row["span_name"], row["session_id"]) == (f"gpt{FFFD}4o", f"chat{FFFD}", f"s{FFFD}1")
    assert row["attributes"]["resource"]["service.name"] == f"bot{FFFD}"


def test_a_filter_value_with_nul_finds_the_spans_stored_from_it(writer, querier, org):
    spans = [json_span(model=f"m{NUL}"), json_span(model=f"m{NUL}"), json_span(model="m")]
    response = writer.post("/api/v1/spans", data=orjson.dumps({"spans": spans}), content_type="application/json")
    assert response.json()["accepted"] == 3

    by_get = querier.get("/api/v1/metrics", {"metrics": "request_count", "interval": "1day", "model": f"m{NUL}"})
    assert by_get.status_code == 200, by_get.content
    assert sum(row["request_count"] for row in by_get.json()["data"]) == 2

    now = datetime.now(UTC)
    body = {
        "start_time": (now - timedelta(hours=1)).isoformat(),
        "end_time": now.isoformat(),
        "metrics": [{"metric": "request_count"}],
        "filters": [{"dimension": "model", "operator": "in", "value": [f"m{NUL}"]}],
    }
    by_post = querier.post("/api/v1/metrics/query", data=orjson.dumps(body), content_type="application/json")
    assert by_post.status_code == 200, by_post.content
    assert sum(row["request_count"] for row in by_post.json()["data"]) == 2

    raw = querier.get("/api/v1/metrics", {"metrics": "request_count", "interval": "1day", "user_id": f"u{NUL}"})
    assert raw.status_code == 200 and raw.json()["data"] == []
    summary = querier.get("/api/v1/metrics/summary", {"model": f"m{NUL}"})
    assert summary.status_code == 200, summary.content
