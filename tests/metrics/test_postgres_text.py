"""NUL characters (which PostgreSQL text and jsonb cannot hold): stored as U+FFFD from both ingest
doors, and found again by a filter value written as it was sent, never a 500."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from metrics.postgres_text import any_nul, storable_json_value
from tests.metrics import otel_helpers
from tests.metrics.factories import json_span, stored_spans

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


def test_the_otlp_door_stores_nul_characters_as_replacement_characters(writer, org):
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(
        otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    )
    resource = request.resource_spans[0].resource
    span = next(s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans if s.name == "chat gpt-4o")
    span.name = f"chat{NUL}"
    for item in [*span.attributes, *resource.attributes]:
        if item.key in ("gen_ai.request.model", "gen_ai.response.model", "gen_ai.conversation.id", "service.name"):
            item.value.string_value += NUL
    response = writer.post("/v1/traces", data=request.SerializeToString(), content_type="application/x-protobuf")
    assert response.status_code == 200, response.content
    (row,) = stored_spans(org.pk)
    assert (row["model"], row["span_name"]) == (f"gpt-4o-2024-08-06{FFFD}", f"chat{FFFD}")
    assert row["session_id"] == f"conv-1{FFFD}"
    assert row["attributes"]["resource"]["service.name"] == f"chatbot{FFFD}"


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
