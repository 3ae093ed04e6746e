"""OTLP/HTTP trace bodies (protobuf or JSON) → OtlpSpan, a plain view of each span.

Protobuf is decoded by opentelemetry-proto. JSON is walked directly rather than through
`json_format.Parse`, which silently misreads OTLP's hex ids as base64
(otel-genai-mapping.md §4): ids are hex, int64 values arrive as strings or numbers, enums
as integers, unknown fields are ignored.
"""

import base64
import binascii
import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from metrics.ingest.validation import MAX_ATTRIBUTE_DEPTH


class OtlpDecodeError(ValueError):
    """The body cannot be read as an OTLP trace export (→ 400)."""


class OtlpTooLarge(ValueError):
    """The body is larger than allowed once decompressed (→ 413)."""


@dataclass(slots=True)
class OtlpEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(slots=True)
class OtlpSpan:
    trace_id: str | None  # lowercase hex, None when missing or invalid
    span_id: str | None
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope_name: str = ""
    scope_version: str = ""
    events: list[OtlpEvent] = field(default_factory=list)


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undoes Content-Encoding (identity, gzip, deflate) without inflating past `limit`."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate", "x-gzip"):
        raise OtlpDecodeError(f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity")
    wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"the body is not valid {encoding} data") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise OtlpTooLarge(f"the decompressed body exceeds {limit} bytes")
    return data


# ---- protobuf -----------------------------------------------------------------------


def _pb_value(value: common_pb2.AnyValue, depth: int = 1) -> Any:
    """An attribute value as plain Python; lists and maps nested past MAX_ATTRIBUTE_DEPTH are dropped."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        if depth > MAX_ATTRIBUTE_DEPTH:
            return None
        return [_pb_value(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        if depth > MAX_ATTRIBUTE_DEPTH:
            return None
        return {kv.key: _pb_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


# What most attributes are: read in place rather than through _pb_value's call (a span has ~10).
_PB_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def _pb_attributes(attributes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kv in attributes:
        value = kv.value
        # Most values are non-empty strings or non-zero integers: read as such at once (an unset
        # member of the oneof reads as "" or 0), where asking which member is set and reading it
        # took two calls more: decoding a batch of I1's shape (8 attributes a span) went from
        # 13.0-15.4 to 11.0-12.4 µs a span. The rest (empty, zero, other kinds) are read as before.
        scalar = value.string_value or value.int_value
        if scalar:
            result[kv.key] = scalar
            continue
        kind = value.WhichOneof("value")
        result[kv.key] = getattr(value, kind) if kind in _PB_SCALARS else _pb_value(value)
    return result


_ZERO_IDS = {16: bytes(16), 8: bytes(8)}


def _pb_id(raw: bytes, length: int) -> str | None:
    if len(raw) != length or raw == _ZERO_IDS[length]:
        return None
    return raw.hex()


def decode_protobuf(body: bytes) -> list[OtlpSpan]:
    try:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RuntimeError) as exc:
        raise OtlpDecodeError("the body is not a valid OTLP ExportTraceServiceRequest (protobuf)") from exc
    spans: list[OtlpSpan] = []
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name, scope_version = scope.name, scope.version
            for span in scope_spans.spans:
                status = span.status
                parent = span.parent_span_id
                spans.append(
                    OtlpSpan(
                        trace_id=_pb_id(span.trace_id, 16),
                        span_id=_pb_id(span.span_id, 8),
                        parent_span_id=parent.hex() if len(parent) == 8 else None,
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=status.code,
                        status_message=status.message,
                        attributes=_pb_attributes(span.attributes),
                        resource=resource,
                        scope_name=scope_name,
                        scope_version=scope_version,
                        events=[OtlpEvent(e.name, e.time_unix_nano, _pb_attributes(e.attributes)) for e in span.events],
                    )
                )
    return spans


# ---- JSON ---------------------------------------------------------------------------

INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
_JSON_VALUE_KINDS = ("stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue")
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _json_value(value: Any, depth: int = 1) -> Any:
    """As `_pb_value`, from proto3 JSON."""
    if not isinstance(value, dict):
        return None
    for kind in _JSON_VALUE_KINDS:
        if kind in value:
            raw = value[kind]
            if kind == "intValue":
                return _json_int(raw, INT64)
            if kind == "doubleValue":
                return _json_float(raw)
            if kind in ("arrayValue", "kvlistValue") and depth > MAX_ATTRIBUTE_DEPTH:
                return None
            if kind == "arrayValue":
                values = _list(raw.get("values") if isinstance(raw, dict) else None)
                return [_json_value(v, depth + 1) for v in values]
            if kind == "kvlistValue":
                return _json_attributes(raw.get("values") if isinstance(raw, dict) else None, depth + 1)
            if kind == "boolValue":
                return raw if isinstance(raw, bool) else None
            return raw if isinstance(raw, str) else None  # stringValue, bytesValue (base64)
    return None


def _json_float(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        return float(raw)  # "NaN" and "Infinity" are proto3 JSON; they are stored as null
    except (ValueError, OverflowError):
        return None


def _json_int(raw: Any, bounds: tuple[int, int] = UINT64) -> int | None:
    """An integer as proto3 JSON writes one (a number or a decimal string), None when it is not
    one or lies outside the field's type (`bounds`: uint64 for times, int64 for attribute values)."""
    if isinstance(raw, bool):
        return None
    number: int | None = None
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and len(raw) <= 24:  # 2**64 has 20 digits: longer text is not worth parsing
        try:
            number = int(raw)
        except ValueError:
            return None
    elif isinstance(raw, float) and raw.is_integer():
        number = int(raw)
    return number if number is not None and bounds[0] <= number <= bounds[1] else None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpDecodeError("the JSON body does not have the OTLP shape (expected a list)")
    return value


def _json_attributes(values: Any, depth: int = 1) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kv in _list(values):
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            result[kv["key"]] = _json_value(kv.get("value"), depth)
    return result


def _json_id(raw: Any, length: int) -> str | None:
    """Hex per the OTLP JSON rules; base64 accepted from non-compliant senders."""
    if not isinstance(raw, str) or not raw:
        return None
    if len(raw) == 2 * length:
        try:
            decoded = bytes.fromhex(raw)
        except ValueError:
            decoded = b""
    else:
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
    if len(decoded) != length or decoded == b"\x00" * length:
        return None
    return decoded.hex()


def _json_span(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any]) -> OtlpSpan:
    raw_status = span.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    code = status.get("code", 0)
    if isinstance(code, str):
        code = _STATUS_NAMES.get(code, _json_int(code) or 0)
    events = [
        OtlpEvent(str(e.get("name", "")), _json_int(e.get("timeUnixNano")) or 0, _json_attributes(e.get("attributes")))
        for e in _list(span.get("events"))
        if isinstance(e, dict)
    ]
    parent = span.get("parentSpanId")
    return OtlpSpan(
        trace_id=_json_id(span.get("traceId"), 16),
        span_id=_json_id(span.get("spanId"), 8),
        parent_span_id=_json_id(parent, 8) if parent else None,
        name=str(span.get("name", "")),
        start_ns=_json_int(span.get("startTimeUnixNano")) or 0,
        end_ns=_json_int(span.get("endTimeUnixNano")) or 0,
        status_code=code if isinstance(code, int) else 0,
        status_message=str(status.get("message", "") or ""),
        attributes=_json_attributes(span.get("attributes")),
        resource=resource,
        scope_name=str(scope.get("name", "") or ""),
        scope_version=str(scope.get("version", "") or ""),
        events=events,
    )


def decode_json(body: bytes) -> list[OtlpSpan]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError("the body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise OtlpDecodeError("the JSON body must be an object with resourceSpans")
    spans: list[OtlpSpan] = []
    for resource_spans in _list(document.get("resourceSpans")):
        if not isinstance(resource_spans, dict):
            raise OtlpDecodeError("resourceSpans entries must be objects")
        resource_obj = resource_spans.get("resource") or {}
        resource = _json_attributes(resource_obj.get("attributes") if isinstance(resource_obj, dict) else None)
        scope_list = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans")
        for scope_spans in _list(scope_list):
            if not isinstance(scope_spans, dict):
                raise OtlpDecodeError("scopeSpans entries must be objects")
            scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            for span in _list(scope_spans.get("spans")):
                if not isinstance(span, dict):
                    raise OtlpDecodeError("spans entries must be objects")
                spans.append(_json_span(span, resource, scope if isinstance(scope, dict) else {}))
    return spans


def gzip_bytes(data: bytes) -> bytes:
    """For tests and the benchmark: what an exporter with compression=gzip sends."""
    return gzip.compress(data)
