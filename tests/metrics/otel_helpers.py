"""Real OpenTelemetry SDK spans, exported as OTLP protobuf or OTLP JSON."""

import base64
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

GENAI_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.conversation.id": "conv-1",
    "user.id": "alice",
}


def tracer_provider(exporter: SpanExporter, environment: str = "staging") -> TracerProvider:
    resource = Resource.create({"service.name": "chatbot", "deployment.environment.name": environment})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def emit_genai_spans(provider: TracerProvider, count: int = 3, *, error_on: int | None = None) -> None:
    """`count` chat spans under one non-LLM root span, the way an app instrumented with OTel sends them."""
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2", "2.1b0")
    with tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER, attributes={"http.method": "POST"}):
        for index in range(count):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=GENAI_CHAT) as span:
                if index == error_on:
                    span.set_attribute("error.type", "RateLimitError")
                    span.set_status(Status(StatusCode.ERROR, "Rate limit reached"))


def captured_spans(environment: str = "staging", count: int = 3, error_on: int | None = None) -> Sequence[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = tracer_provider(exporter, environment)
    emit_genai_spans(provider, count, error_on=error_on)
    provider.shutdown()
    return exporter.get_finished_spans()


def otlp_protobuf(spans: Sequence[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The OTLP/JSON encoding: proto3 JSON, except that ids are hex (not base64)."""
    document = json_format.MessageToDict(encode_spans(spans))
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return document
