"""The plain JSON span of `POST /api/v1/spans` → SpanRecord, by whitelist, with every error named.

Hand-written rather than a DRF serializer: a batch holds thousands of spans, and per-span
serializer overhead would dominate ingest time. The rules are the field table below.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from metrics.ingest.records import SpanRecord
from metrics.models.spans import STATUS_CODES, STATUS_ERROR, STATUS_UNSET

# A token count per span. One LLM call reads and writes far less (the largest context windows
# hold ~10M tokens). The cap also keeps every rollup's bigint token sums from overflowing: a
# total (prompt + completion, up to twice this) times 50,000 spans/s into one organization,
# model and day for the whole day stays below 2^63. An overflow would fail every fold, and
# with it every organization's rollups, for as long as those spans stayed queued.
MAX_TOKENS = 10**9
MAX_COST = Decimal("1000000")
MAX_DURATION_MS = Decimal("999999999")  # numeric(12,3)
MAX_DURATION_US = int(MAX_DURATION_MS) * 1000  # durations and TTFT travel in µs
MAX_TEXT = 256
MAX_ERROR_MESSAGE = 4000
MAX_TAGS = 50
MAX_ATTRIBUTES_BYTES = 16_384
# Levels of objects and lists inside attributes (either door). Real instrumentations nest two or
# three; the JSON writer that stores them gives up past 255.
MAX_ATTRIBUTE_DEPTH = 16

_HEX = re.compile(r"^[0-9a-f]+$")

REQUIRED_FIELDS = ("trace_id", "span_id", "start_time", "provider", "model")
TOKEN_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
COST_FIELDS = ("prompt_cost_usd", "completion_cost_usd", "total_cost_usd")
TEXT_FIELDS = ("span_name", "error_type", "finish_reason", "user_id", "session_id", "environment")
ALLOWED_FIELDS = frozenset(
    {
        *REQUIRED_FIELDS,
        "parent_span_id",
        "duration_ms",
        "end_time",
        "ttft_ms",
        "status_code",
        "error_message",
        "tags",
        "attributes",
        *TOKEN_FIELDS,
        *COST_FIELDS,
        *TEXT_FIELDS,
    }
)

MSG_NOT_OBJECT = "each span must be a JSON object"
MSG_UNKNOWN_FIELD = "unknown field '{name}'; allowed: {allowed}"
MSG_REQUIRED = "{name} is required"
MSG_HEX_ID = "{name} must be {length} hexadecimal characters (a UUID is accepted for trace_id)"
MSG_ZERO_ID = "{name} must not be all zeros"
MSG_TIME = "{name} must be an ISO 8601 timestamp"
MSG_DURATION = "give duration_ms or end_time (not before start_time)"
MSG_TOO_LONG = f"end_time is more than {MAX_DURATION_MS} ms after start_time, longer than a span can last"
MSG_NON_NEGATIVE_NUMBER = "{name} must be a number between 0 and {maximum}"
MSG_TOKENS = "{name} must be a whole number between 0 and {maximum}"
MSG_TEXT = "{name} must be a string of at most {maximum} characters"
MSG_REQUIRED_TEXT = "{name} must be a non-empty string of at most {maximum} characters"
MSG_STATUS = "status_code must be one of OK, ERROR, UNSET"
MSG_TAGS = f"tags must be a list of at most {MAX_TAGS} strings of at most 100 characters"
MSG_ATTRIBUTES = (
    f"attributes must be a JSON object of at most {MAX_ATTRIBUTES_BYTES} bytes,"
    f" nested at most {MAX_ATTRIBUTE_DEPTH} levels deep"
)
MSG_CACHE_PARTS = "cache_read_tokens + cache_write_tokens cannot exceed prompt_tokens (they are part of it)"
MSG_REASONING_PART = "reasoning_tokens cannot exceed completion_tokens (they are part of it)"


def parse_iso_time(value: Any) -> datetime | None:
    """An ISO 8601 string as a UTC datetime (no offset means UTC); None when it is not one."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves it past year 1 or 9999
        return None


def nests_deeper_than(value: Any, levels: int) -> bool:
    """Whether objects and lists nest in `value` more than `levels` deep (it looks no deeper)."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    return levels == 0 or any(nests_deeper_than(child, levels - 1) for child in children)


def normalize_id(value: Any, length: int) -> str | None:
    """Lowercase hex of exactly `length` characters; UUID dashes are dropped."""
    if not isinstance(value, str):
        return None
    cleaned = value.strip().replace("-", "").lower()
    if len(cleaned) != length or not _HEX.match(cleaned):
        return None
    return cleaned


def _decimal(value: Any, maximum: Decimal) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        return None
    return number


def _tokens(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        return None
    return value


class _Collector:
    """Gathers every error of one span instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, message: str) -> None:
        self.errors.append(message)


def _ids(span: dict[str, Any], out: _Collector) -> tuple[str, str, str | None]:
    trace_id = normalize_id(span.get("trace_id"), 32)
    span_id = normalize_id(span.get("span_id"), 16)
    parent = span.get("parent_span_id")
    parent_id = normalize_id(parent, 16) if parent not in (None, "") else None
    for name, value, length in (("trace_id", trace_id, 32), ("span_id", span_id, 16)):
        if value is None:
            out.add(MSG_HEX_ID.format(name=name, length=length))
        elif set(value) == {"0"}:
            out.add(MSG_ZERO_ID.format(name=name))
    if parent not in (None, "") and parent_id is None:
        out.add(MSG_HEX_ID.format(name="parent_span_id", length=16))
    return trace_id or "", span_id or "", parent_id


def _times(span: dict[str, Any], out: _Collector) -> tuple[datetime | None, int | None, int | None]:
    start = parse_iso_time(span.get("start_time"))
    if start is None:
        out.add(MSG_TIME.format(name="start_time"))
    duration_us = _duration_us(span, start, out)
    ttft_us = None
    if span.get("ttft_ms") is not None:
        ttft = _decimal(span["ttft_ms"], MAX_DURATION_MS)
        if ttft is None:
            out.add(MSG_NON_NEGATIVE_NUMBER.format(name="ttft_ms", maximum=MAX_DURATION_MS))
        else:
            ttft_us = int((ttft * 1000).to_integral_value())
    return start, duration_us, ttft_us


def _duration_us(span: dict[str, Any], start: datetime | None, out: _Collector) -> int | None:
    """From duration_ms, else from end_time − start_time; None when neither gives one."""
    if span.get("duration_ms") is not None:
        duration = _decimal(span["duration_ms"], MAX_DURATION_MS)
        if duration is None:
            out.add(MSG_NON_NEGATIVE_NUMBER.format(name="duration_ms", maximum=MAX_DURATION_MS))
            return None
        return int((duration * 1000).to_integral_value())
    if "end_time" not in span:
        return None
    end = parse_iso_time(span.get("end_time"))
    if end is None:
        out.add(MSG_TIME.format(name="end_time"))
        return None
    if start is None:
        return None
    if end < start:
        out.add(MSG_DURATION)
        return None
    delta = end - start
    duration_us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if duration_us > MAX_DURATION_US:
        out.add(MSG_TOO_LONG)
        return None
    return duration_us


def _text(span: dict[str, Any], name: str, maximum: int, out: _Collector, *, required: bool = False) -> str | None:
    value = span.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > maximum or (required and not value.strip()):
        out.add((MSG_REQUIRED_TEXT if required else MSG_TEXT).format(name=name, maximum=maximum))
        return None
    return value.strip() if required else value


def _numbers(span: dict[str, Any], out: _Collector) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TOKEN_FIELDS:
        if span.get(name) is not None:
            values[name] = _tokens(span[name])
            if values[name] is None:
                out.add(MSG_TOKENS.format(name=name, maximum=MAX_TOKENS))
    for name in COST_FIELDS:
        if span.get(name) is not None:
            cost = _decimal(span[name], MAX_COST)
            if cost is None:
                out.add(MSG_NON_NEGATIVE_NUMBER.format(name=name, maximum=MAX_COST))
            else:
                values[name.removesuffix("_usd")] = cost.quantize(Decimal("1e-10"))
    return values


def _token_consistency(values: dict[str, Any], out: _Collector) -> None:
    prompt = values.get("prompt_tokens")
    cached = (values.get("cache_read_tokens") or 0) + (values.get("cache_write_tokens") or 0)
    if prompt is not None and cached > prompt:
        out.add(MSG_CACHE_PARTS)
    completion = values.get("completion_tokens")
    reasoning = values.get("reasoning_tokens")
    if completion is not None and reasoning is not None and reasoning > completion:
        out.add(MSG_REASONING_PART)
    if values.get("total_tokens") is None and prompt is not None and completion is not None:
        values["total_tokens"] = prompt + completion


def _extras(span: dict[str, Any], out: _Collector) -> tuple[list[str], dict[str, Any], str]:
    tags = span.get("tags") or []
    tags_ok = isinstance(tags, list) and len(tags) <= MAX_TAGS
    if not tags_ok or not all(isinstance(t, str) and len(t) <= 100 for t in tags):
        out.add(MSG_TAGS)
        tags = []
    attributes = span.get("attributes") or {}
    if (
        not isinstance(attributes, dict)
        or nests_deeper_than(attributes, MAX_ATTRIBUTE_DEPTH)  # first: repr() recurses without a bound
        or len(repr(attributes)) > MAX_ATTRIBUTES_BYTES
    ):
        out.add(MSG_ATTRIBUTES)
        attributes = {}
    status = span.get("status_code") or STATUS_UNSET
    if not isinstance(status, str) or status.upper() not in STATUS_CODES:
        out.add(MSG_STATUS)
        status = STATUS_UNSET
    return tags, attributes, status.upper()


def parse_json_span(span: Any) -> SpanRecord | list[str]:
    """A SpanRecord, or the list of everything wrong with the span."""
    if not isinstance(span, dict):
        return [MSG_NOT_OBJECT]
    out = _Collector()
    allowed = ", ".join(sorted(ALLOWED_FIELDS))
    for name in span:
        if name not in ALLOWED_FIELDS:
            out.add(MSG_UNKNOWN_FIELD.format(name=str(name)[:64], allowed=allowed))
    for name in REQUIRED_FIELDS:
        if span.get(name) in (None, ""):
            out.add(MSG_REQUIRED.format(name=name))
    trace_id, span_id, parent_id = _ids(span, out)
    start, duration_us, ttft_us = _times(span, out)
    provider = _text(span, "provider", MAX_TEXT, out, required=True)
    model = _text(span, "model", MAX_TEXT, out, required=True)
    texts = {name: _text(span, name, MAX_TEXT, out) for name in TEXT_FIELDS}
    error_message = span.get("error_message")
    if error_message is not None and not isinstance(error_message, str):
        out.add(MSG_TEXT.format(name="error_message", maximum=MAX_ERROR_MESSAGE))
        error_message = None
    numbers = _numbers(span, out)
    _token_consistency(numbers, out)
    tags, attributes, status = _extras(span, out)
    if out.errors or start is None:
        return sorted(set(out.errors), key=out.errors.index)
    if status == STATUS_UNSET and (texts["error_type"] or error_message):
        status = STATUS_ERROR  # an error described but not flagged is still an error
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        ts=start,
        provider=provider or "",
        model=model or "",
        span_name=texts["span_name"] or "",
        environment=texts["environment"] or "",
        status_code=status,
        duration_us=duration_us,
        ttft_us=ttft_us,
        error_type=texts["error_type"],
        error_message=error_message[:MAX_ERROR_MESSAGE] if error_message else None,
        finish_reason=texts["finish_reason"],
        user_id=texts["user_id"],
        session_id=texts["session_id"],
        tags=tags,
        attributes=attributes,
        **numbers,
    )
