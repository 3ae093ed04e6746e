"""The two ingest doors: OTLP/HTTP `POST /v1/traces` and the JSON batch `POST /api/v1/spans`."""

from typing import Any

import orjson
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import principal_of
from accounts.scopes import SPANS_WRITE
from metrics.ingest import otlp, pipeline
from metrics.ingest.mapping import map_batch
from metrics.ingest.records import IngestResult, Rejection
from metrics.ingest.validation import parse_json_span
from observatory import errors
from observatory.openapi import ERROR_RESPONSES

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

MSG_UNSUPPORTED_TYPE = "Content-Type must be application/x-protobuf or application/json."
MSG_TOO_MANY_SPANS = "A request may carry at most {limit} spans; split the batch."
MSG_BATCH_SHAPE = 'The body must be {"spans": [...]} and nothing else.'
MSG_ALL_REJECTED = "No span of the batch is valid; nothing was stored."

# HTTP status → google.rpc.Code, for the Status body of OTLP failures.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def read_body(request: Request) -> bytes:
    """The raw body, refused (413) past INGEST_MAX_BODY_BYTES compressed or decompressed."""
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _too_large(limit)
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise _too_large(limit)
    try:
        return otlp.decompress(
            body, request.META.get("HTTP_CONTENT_ENCODING", ""), settings.INGEST_MAX_DECOMPRESSED_BYTES
        )
    except otlp.OtlpTooLarge as exc:
        raise _too_large(settings.INGEST_MAX_DECOMPRESSED_BYTES) from exc
    except otlp.OtlpDecodeError as exc:
        raise _bad_request(str(exc)) from exc


def _too_large(limit: int) -> errors.ApiError:
    message = errors.MSG_PAYLOAD_TOO_LARGE.format(limit=limit)
    return errors.ApiError(status_code=413, code=errors.PAYLOAD_TOO_LARGE, message=message)


def _bad_request(message: str, details: list[dict[str, str]] | None = None) -> errors.ApiError:
    return errors.ApiError(status_code=400, code=errors.VALIDATION_ERROR, message=message, details=details)


def _media_type(request: Request) -> str:
    return (request.content_type or "").split(";", 1)[0].strip().lower()


def _check_span_count(count: int) -> None:
    if count > settings.INGEST_MAX_SPANS:
        limit = settings.INGEST_MAX_SPANS
        raise errors.ApiError(
            status_code=413, code=errors.PAYLOAD_TOO_LARGE, message=MSG_TOO_MANY_SPANS.format(limit=limit)
        )


class OtlpTracesView(APIView):
    """OTLP/HTTP trace export: protobuf or JSON, gzip/deflate allowed, answers as OTLP clients expect."""

    required_permissions = {"POST": SPANS_WRITE}
    parser_classes: list[Any] = []

    @extend_schema(
        tags=["ingest"],
        summary="OTLP/HTTP trace export (ExportTraceServiceRequest)",
        description=(
            "Send spans from any OpenTelemetry SDK or collector (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=.../v1/traces`, "
            "header `x-api-key`). GenAI, OpenLLMetry, OpenInference, OpenLIT, Langfuse and Vercel AI attributes are "
            "mapped; spans that are not LLM calls are skipped. The answer is an ExportTraceServiceResponse in the "
            "request's encoding, with `partial_success` when some spans were invalid; failures are a "
            "`google.rpc.Status` in the request's encoding."
        ),
        request={PROTOBUF: OpenApiTypes.BINARY, JSON: OpenApiTypes.OBJECT},
        responses={
            (200, PROTOBUF): OpenApiResponse(OpenApiTypes.BINARY, description="ExportTraceServiceResponse."),
            (200, JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="ExportTraceServiceResponse, e.g. `{}`."),
            (400, JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="Undecodable body (google.rpc.Status)."),
            (413, JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="Body or span count over the limit."),
            (503, JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="Storage unavailable; see Retry-After."),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        media_type = _media_type(request)
        if media_type not in (PROTOBUF, JSON):
            raise errors.ApiError(status_code=415, code=errors.UNSUPPORTED_MEDIA_TYPE, message=MSG_UNSUPPORTED_TYPE)
        body = read_body(request)
        try:
            spans = otlp.decode_protobuf(body) if media_type == PROTOBUF else otlp.decode_json(body)
        except otlp.OtlpDecodeError as exc:
            raise _bad_request(str(exc)) from exc
        _check_span_count(len(spans))
        candidates, skipped = map_batch(spans)
        result = pipeline.ingest(principal_of(request), candidates, skipped=skipped)
        return _otlp_success(result, media_type)

    # DRF's dispatch takes any HttpResponse from here; OTLP's failure bodies are not DRF Responses.
    def handle_exception(self, exc: Exception) -> Response | HttpResponse:  # type: ignore[override]
        """Failures keep OTLP's shape: a google.rpc.Status in the request's encoding."""
        response = super().handle_exception(exc)
        data = getattr(response, "data", None)
        message = data["error"]["message"] if isinstance(data, dict) and "error" in data else "request failed"
        status = status_pb2.Status(code=_GRPC_CODES.get(response.status_code, 2), message=message)
        media_type = _media_type(self.request) if getattr(self, "request", None) else JSON
        otlp_response = _encode(status, PROTOBUF if media_type == PROTOBUF else JSON, response.status_code)
        for header in ("Retry-After", "WWW-Authenticate"):
            if response.has_header(header):
                otlp_response[header] = response[header]
        return otlp_response


def _encode(message: Any, media_type: str, status: int = 200) -> HttpResponse:
    if media_type == PROTOBUF:
        return HttpResponse(message.SerializeToString(), content_type=PROTOBUF, status=status)
    body = json_format.MessageToJson(message, indent=None)
    return HttpResponse(body, content_type=JSON, status=status)


def _otlp_success(result: IngestResult, media_type: str) -> HttpResponse:
    response = trace_service_pb2.ExportTraceServiceResponse()
    if result.rejected:
        response.partial_success.rejected_spans = len(result.rejected)
        first = result.rejected[0]
        response.partial_success.error_message = (
            f"{len(result.rejected)} span(s) rejected; first (index {first.index}): {'; '.join(first.errors)}"
        )
    return _encode(response, media_type)


SpanBatchResult = inline_serializer(
    name="SpanBatchResult",
    fields={
        "accepted": serializers.IntegerField(help_text="Spans newly stored."),
        "duplicates": serializers.IntegerField(help_text="Spans already stored earlier (re-sent): not counted twice."),
        "rejected": serializers.ListField(
            child=inline_serializer(
                name="RejectedSpan",
                fields={
                    "index": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.CharField()),
                },
            )
        ),
    },
)

_SPAN_EXAMPLE = {
    "spans": [
        {
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "start_time": "2026-11-26T10:00:00Z",
            "duration_ms": 1234.5,
            "provider": "openai",
            "model": "gpt-4o",
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "status_code": "OK",
            "user_id": "user-42",
            "session_id": "chat-7",
            "environment": "production",
        }
    ]
}


class SpanBatchView(APIView):
    """A plain JSON batch of spans, through the same pipeline as OTLP."""

    required_permissions = {"POST": SPANS_WRITE}
    parser_classes: list[Any] = []

    @extend_schema(
        tags=["ingest"],
        summary="Ingest a JSON batch of spans",
        description=(
            "Required per span: `trace_id` (32 hex), `span_id` (16 hex), `start_time` (ISO 8601; no offset = UTC), "
            "`provider`, `model`, and `duration_ms` or `end_time`. Tokens are counts (cache and reasoning tokens are "
            "*parts* of prompt/completion tokens); costs are USD. Spans without a cost are priced from the model "
            "price table, then genai-prices. Valid spans are stored even when others are rejected; a re-sent span "
            "is counted once (`duplicates`)."
        ),
        request=inline_serializer(
            name="SpanBatch", fields={"spans": serializers.ListField(child=serializers.DictField())}
        ),
        examples=[OpenApiExample("One span", value=_SPAN_EXAMPLE, request_only=True)],
        responses={200: SpanBatchResult, 413: ERROR_RESPONSES[400], **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        if _media_type(request) != JSON:
            raise errors.ApiError(status_code=415, code=errors.UNSUPPORTED_MEDIA_TYPE, message=MSG_UNSUPPORTED_TYPE)
        body = read_body(request)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _bad_request(errors.MSG_MALFORMED_JSON) from exc
        if not isinstance(document, dict) or set(document) != {"spans"} or not isinstance(document["spans"], list):
            raise _bad_request(MSG_BATCH_SHAPE, [{"field": "spans", "message": MSG_BATCH_SHAPE}])
        spans = document["spans"]
        _check_span_count(len(spans))
        candidates = [(index, parse_json_span(span)) for index, span in enumerate(spans)]
        result = pipeline.ingest(principal_of(request), candidates)  # writes nothing if no span is valid
        if spans and result.accepted + result.duplicates == 0:
            raise _all_rejected(result.rejected)
        return Response(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": [{"index": r.index, "errors": r.errors} for r in result.rejected],
            }
        )


def _all_rejected(rejected: list[Rejection]) -> errors.ApiError:
    details = [{"field": f"spans[{r.index}]", "message": message} for r in rejected for message in r.errors]
    return _bad_request(MSG_ALL_REJECTED, details[:100])
