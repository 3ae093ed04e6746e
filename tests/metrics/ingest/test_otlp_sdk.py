"""The real OpenTelemetry SDK exporting GenAI spans to a live server: protobuf, gzip and JSON."""

from decimal import Decimal

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from accounts import services
from tests.metrics import otel_helpers
from tests.metrics.factories import money, rollup_rows, stored_spans

pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture
def ingest_key(org) -> str:
    return services.api_key_issue(organization=org, name="otel", scopes=["spans:write"]).secret


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_the_sdk_exporter_lands_rows_with_the_right_fields(live_server, org, ingest_key, compression):
    # given: an app instrumented with the OTel SDK, exporting to us
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"x-api-key": ingest_key}, compression=compression
    )
    provider = otel_helpers.tracer_provider(exporter, environment="staging")
    # when
    otel_helpers.emit_genai_spans(provider, count=3, error_on=1)
    provider.shutdown()
    # then: the three chat spans are stored; the HTTP root span is skipped
    rows = stored_spans(org.pk)
    assert len(rows) == 3
    first = rows[0]
    assert (first["provider"], first["model"]) == ("openai", "gpt-4o-2024-08-06")
    assert (first["prompt_tokens"], first["completion_tokens"], first["total_tokens"]) == (1000, 500, 1500)
    assert first["cache_read_tokens"] == 200
    assert first["environment"] == "staging"
    assert (first["user_id"], first["session_id"]) == ("alice", "conv-1")
    assert first["finish_reason"] == "stop"
    assert first["span_name"] == "chat gpt-4o"
    assert first["attributes"]["resource"]["service.name"] == "chatbot"
    # gpt-4o: 800 uncached input at $2.50/M + 200 cached at $1.25/M, 500 output at $10/M
    assert first["total_cost"] == money("0.00225") + money("0.005")
    statuses = sorted(r["status_code"] for r in rows)
    assert statuses == ["ERROR", "UNSET", "UNSET"]
    error = next(r for r in rows if r["status_code"] == "ERROR")
    assert (error["error_type"], error["error_message"]) == ("RateLimitError", "Rate limit reached")
    assert sum(r["request_count"] for r in rollup_rows("llm_metrics_1min", org.pk)) == 3


def test_otlp_json_lands_the_same_rows(live_server, org, ingest_key):
    document = otel_helpers.otlp_json(otel_helpers.captured_spans(environment="prod", count=2))
    response = httpx.post(f"{live_server.url}/v1/traces", json=document, headers={"x-api-key": ingest_key}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    rows = stored_spans(org.pk)
    assert len(rows) == 2
    assert {r["environment"] for r in rows} == {"prod"}
    assert rows[0]["duration_ms"] >= Decimal(0)


def test_a_protobuf_request_gets_a_protobuf_answer(live_server, org, ingest_key):
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    response = httpx.post(
        f"{live_server.url}/v1/traces",
        content=body,
        headers={"x-api-key": ingest_key, "content-type": "application/x-protobuf"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert not parsed.HasField("partial_success")


def test_resending_the_same_export_counts_once(live_server, org, ingest_key):
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=2))
    headers = {"x-api-key": ingest_key, "content-type": "application/x-protobuf"}
    for _ in range(3):
        assert httpx.post(f"{live_server.url}/v1/traces", content=body, headers=headers, timeout=30).status_code == 200
    assert len(stored_spans(org.pk)) == 2
    assert sum(r["request_count"] for r in rollup_rows("llm_metrics_1hour", org.pk)) == 2


def llm_spans_of(document: dict) -> list[dict]:
    return [s for s in document["resourceSpans"][0]["scopeSpans"][0]["spans"] if s["name"] == "chat gpt-4o"]


def partial_success(url: str, document: dict, key: str):
    response = httpx.post(f"{url}/v1/traces", json=document, headers={"x-api-key": key}, timeout=30)
    assert response.status_code == 200
    return json_format.Parse(response.text, trace_service_pb2.ExportTraceServiceResponse()).partial_success


def test_invalid_spans_give_partial_success(live_server, org, ingest_key):
    document = otel_helpers.otlp_json(otel_helpers.captured_spans(count=2))
    llm_spans_of(document)[0]["traceId"] = "0" * 32
    rejected = partial_success(live_server.url, document, ingest_key)
    assert rejected.rejected_spans == 1
    assert "traceId" in rejected.error_message
    assert len(stored_spans(org.pk)) == 1


def test_times_no_column_can_hold_reject_their_span_and_the_batch_is_stored(live_server, org, ingest_key):
    document = otel_helpers.otlp_json(otel_helpers.captured_spans(count=3))
    twenty_days, past_uint64, _ = llm_spans_of(document)
    twenty_days["endTimeUnixNano"] = str(int(twenty_days["startTimeUnixNano"]) + 20 * 86_400 * 10**9)
    past_uint64["startTimeUnixNano"] = past_uint64["endTimeUnixNano"] = "99999999999999999999999"  # read as none
    rejected = partial_success(live_server.url, document, ingest_key)
    assert rejected.rejected_spans == 2
    assert "longer than a span can last" in rejected.error_message
    assert len(stored_spans(org.pk)) == 1
