"""OTLP span attributes → SpanRecord fields, one priority table per field (otel-genai-mapping.md).

Covers the OpenTelemetry GenAI conventions (current and older names), OpenLLMetry/Traceloop,
OpenInference, OpenLIT, Langfuse, the Vercel AI SDK and Pydantic AI. Each table lists the
attribute names in priority order; the first non-empty value wins.
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from metrics.ingest.otlp import OtlpSpan
from metrics.ingest.records import SpanRecord
from metrics.ingest.validation import (
    MAX_DURATION_MS,
    MAX_DURATION_US,
    MAX_ERROR_MESSAGE,
    MAX_TEXT,
    MAX_TOKENS,
    parse_iso_time,
)
from metrics.models.spans import STATUS_ERROR, STATUS_OK, STATUS_UNSET

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MSG_BAD_TRACE_ID = "traceId must be 16 bytes (32 hex characters) and not all zeros"
MSG_BAD_SPAN_ID = "spanId must be 8 bytes (16 hex characters) and not all zeros"
MSG_NO_START = "startTimeUnixNano is missing"
MSG_TOO_LONG = f"endTimeUnixNano is more than {MAX_DURATION_MS} ms after startTimeUnixNano, longer than a span can last"

# ---- 1. Is the span an LLM call? ----------------------------------------------------------
LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "embedding", "completion", "image", "audio"}
)
NON_LLM_OPERATIONS = frozenset(
    {
        "invoke_agent",
        "create_agent",
        "execute_tool",
        "invoke_workflow",
        "retrieval",
        "execute_task",
        "vector_db_retrieve",
    }
)
LEGACY_REQUEST_TYPES = frozenset({"chat", "completion", "embedding", "rerank"})
OPENINFERENCE_LLM_KINDS = frozenset({"LLM", "EMBEDDING"})
LANGFUSE_LLM_TYPES = frozenset({"generation", "embedding"})
TRACELOOP_NON_LLM_KINDS = frozenset({"workflow", "task", "agent", "tool"})
VERCEL_LLM_SUFFIXES = (".doGenerate", ".doStream", ".doEmbed")

# ---- 2. Field priority tables --------------------------------------------------------------
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL_KEYS = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.response.model_name",
    "llm.model_name",
    "llm.request.model_name",
    "embedding.model_name",
    "ai.response.model",
    "ai.model.id",
)
LANGFUSE_MODEL_KEY = "langfuse.observation.model.name"  # Langfuse puts its own name first
LANGFUSE_USAGE_KEY = "langfuse.observation.usage_details"
LANGFUSE_COST_KEY = "langfuse.observation.cost_details"

TOKEN_KEYS: dict[str, tuple[str, ...]] = {
    "prompt_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "ai.usage.inputTokens",
        "ai.usage.promptTokens",
    ),
    "completion_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "ai.usage.outputTokens",
        "ai.usage.completionTokens",
    ),
    "total_tokens": (
        "gen_ai.usage.total_tokens",
        "llm.usage.total_tokens",
        "llm.token_count.total",
        "ai.usage.totalTokens",
        "ai.usage.tokens",
        "gen_ai.client.token.usage",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.prompt_tokens_details.cached_tokens",
        "ai.usage.cachedInputTokens",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
}
# Langfuse usage_details (a JSON string, sometimes the provider's raw usage dict).
LANGFUSE_USAGE_KEYS: dict[str, tuple[str, ...]] = {
    "prompt_tokens": ("input", "input_tokens", "prompt_tokens"),
    "completion_tokens": ("output", "output_tokens", "completion_tokens"),
    "total_tokens": ("total", "total_tokens"),
    "cache_read_tokens": ("input_cached_tokens", "cache_read_input_tokens", "prompt_tokens_details.cached_tokens"),
}
COST_KEYS: dict[str, tuple[str, ...]] = {
    "prompt_cost": ("llm.cost.prompt",),
    "completion_cost": ("llm.cost.completion",),
    "total_cost": ("llm.cost.total",),
}
LANGFUSE_COST_KEYS = {"prompt_cost": "input", "completion_cost": "output", "total_cost": "total"}
OPENLIT_COST_KEY = "gen_ai.usage.cost"  # 0.0 when OpenLIT does not know the model
LOGFIRE_COST_KEY = "operation.cost"

USER_KEYS = (
    "langfuse.user.id",
    "user.id",
    "traceloop.association.properties.user_id",
    "enduser.id",
    "gen_ai.user.id",
    "ai.telemetry.metadata.userId",
    "langfuse.trace.metadata.langfuse_user_id",
    "gen_ai.request.user",
    "gen_ai.user",
    "llm.user",
)
SESSION_KEYS = (
    "langfuse.session.id",
    "session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
    "gen_ai.session.id",
    "ai.telemetry.metadata.sessionId",
    "langfuse.trace.metadata.langfuse_session_id",
)
ENVIRONMENT_KEYS = (
    "langfuse.environment",
    "deployment.environment.name",
    "deployment.environment",
    "gen_ai.environment",
)
FINISH_REASON_KEYS = (
    "gen_ai.response.finish_reasons",
    "gen_ai.response.finish_reason",
    "llm.finish_reason",
    "ai.response.finishReason",
    "llm.response.finish_reason",
    "llm.response.stop_reason",
    "gen_ai.completion.0.finish_reason",
)
ERROR_MESSAGE_KEYS = ("langfuse.observation.status_message", "error.message", "gen_ai.framework.error.message")
STREAM_FLAG_KEYS = ("gen_ai.request.stream", "gen_ai.request.is_stream", "gen_ai.is_streaming", "llm.is_streaming")
FIRST_TOKEN_EVENTS = frozenset(
    {
        "First Token Stream Event",
        "gen_ai.content.completion.chunk",
        "llm.content.completion.chunk",
        "ai.stream.firstChunk",
    }
)
SERVER_HOST_PROVIDERS = (
    ("openai.azure.com", "azure"),
    ("api.openai.com", "openai"),
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "google"),
    ("aiplatform.googleapis.com", "google"),
    ("bedrock", "aws"),
    ("api.mistral.ai", "mistral"),
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x-ai"),
    ("api.cohere", "cohere"),
    ("openrouter.ai", "openrouter"),
)
# Message content is large and personal: never kept in the attributes column.
CONTENT_PREFIXES = (
    "gen_ai.prompt",
    "gen_ai.completion.",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "input.value",
    "output.value",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "ai.prompt",
    "ai.response.text",
    "ai.response.toolCalls",
)
MAX_ATTRIBUTE_STRING = 1000

# ---- 3. Every priority table by the field it fills -------------------------------------------
PRIORITY_TABLES: dict[str, tuple[str, ...]] = {
    "provider": PROVIDER_KEYS,
    "model": MODEL_KEYS,
    "langfuse_model": (LANGFUSE_MODEL_KEY,),
    **TOKEN_KEYS,
    **COST_KEYS,
    "user_id": USER_KEYS,
    "session_id": SESSION_KEYS,
    "finish_reason": FINISH_REASON_KEYS,
    "error_message": ERROR_MESSAGE_KEYS,
    "stream": STREAM_FLAG_KEYS,
    "first_chunk_ms": ("ai.response.msToFirstChunk", "ai.stream.msToFirstChunk"),
}
# attribute name → (field, rank in its table); a name feeds one field only.
_PRIORITY_INDEX: dict[str, tuple[str, int]] = {
    key: (field, rank) for field, keys in PRIORITY_TABLES.items() for rank, key in enumerate(keys)
}
assert len(_PRIORITY_INDEX) == sum(map(len, PRIORITY_TABLES.values())), "an attribute name is in two tables"


# ---- helpers ---------------------------------------------------------------------------------


def pick(attributes: dict[str, Any]) -> dict[str, Any]:
    """The first non-empty value of every priority table (by field), in one pass over the attributes.

    Equivalent to probing each table's names in order, but reads a span's ~10 attributes once
    instead of ~80 names that are mostly absent (with `_kept`, the mapping of a bench batch
    went from 203k to 159k instructions per span, counted by callgrind).
    """
    found: dict[str, tuple[int, Any]] = {}
    index = _PRIORITY_INDEX
    for key, value in attributes.items():
        entry = index.get(key)
        if entry is None or value is None or value == "" or value == []:
            continue
        field, rank = entry
        held = found.get(field)
        if held is None or rank < held[0]:
            found[field] = (rank, value)
    return {field: value for field, (_, value) in found.items()}


def to_int(value: Any) -> int | None:
    """Token counts arrive as ints, doubles or strings (JSON int64); int(float(x)) them."""
    if type(value) is int:  # the usual case, exact as it is (MAX_TOKENS is far below 2**53)
        return value if 0 <= value <= MAX_TOKENS else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= MAX_TOKENS else None


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > 1_000_000:
        return None
    return number.quantize(Decimal("1e-10"))


def json_object(value: Any) -> dict[str, Any]:
    """Langfuse sends usage/cost details as JSON strings."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def dotted(mapping: dict[str, Any], path: str) -> Any:
    current: Any = mapping
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if type(value) is str:  # nearly always: ~9 calls a span
        value = value.strip()
        return value[:limit] if value else None
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    result = str(value).strip()
    return result[:limit] if result else None


# ---- classification ---------------------------------------------------------------------------


def _has_tokens(attributes: dict[str, Any], picked: dict[str, Any]) -> bool:
    if LANGFUSE_USAGE_KEY in attributes:
        return True
    return any(name in picked for name in TOKEN_KEYS)


def is_llm_span(span: OtlpSpan, picked: dict[str, Any] | None = None) -> bool:
    attributes = span.attributes
    operation = attributes.get("gen_ai.operation.name")
    if operation in NON_LLM_OPERATIONS:
        return False
    if str(attributes.get("traceloop.span.kind", "")).lower() in TRACELOOP_NON_LLM_KINDS:
        return False
    operation_id = attributes.get("ai.operationId")
    if isinstance(operation_id, str):
        return operation_id.endswith(VERCEL_LLM_SUFFIXES)
    oi_kind = attributes.get("openinference.span.kind")
    if oi_kind is not None:
        return str(oi_kind).upper() in OPENINFERENCE_LLM_KINDS
    if operation in LLM_OPERATIONS:
        return True
    if attributes.get("llm.request.type") in LEGACY_REQUEST_TYPES:
        return True
    if attributes.get("langfuse.observation.type") in LANGFUSE_LLM_TYPES:
        return True
    picked = pick(attributes) if picked is None else picked
    has_model = "model" in picked or "langfuse_model" in picked
    return has_model and _has_tokens(attributes, picked)


# ---- field mappers ---------------------------------------------------------------------------


def map_provider(attributes: dict[str, Any], picked: dict[str, Any]) -> str:
    value = picked.get("provider")
    if value is None:
        vercel = attributes.get("ai.model.provider")
        value = str(vercel).split(".", 1)[0] if vercel else None
    if value is None:
        host = str(attributes.get("server.address", "")).lower()
        value = next((provider for fragment, provider in SERVER_HOST_PROVIDERS if fragment in host), None)
    return (text(value) or "").lower()


def map_model(attributes: dict[str, Any], picked: dict[str, Any]) -> str:
    value = attributes.get(LANGFUSE_MODEL_KEY) or picked.get("model")
    return text(value) or ""


def map_tokens(attributes: dict[str, Any], picked: dict[str, Any]) -> dict[str, int | None]:
    usage = json_object(attributes.get(LANGFUSE_USAGE_KEY))
    tokens: dict[str, int | None] = {}
    for name in TOKEN_KEYS:
        value = to_int(picked.get(name))
        if value is None and usage:
            candidates = (dotted(usage, key) for key in LANGFUSE_USAGE_KEYS.get(name, ()))
            value = to_int(next((c for c in candidates if c is not None), None))
        tokens[name] = value
    prompt, completion = tokens["prompt_tokens"], tokens["completion_tokens"]
    cached = (tokens["cache_read_tokens"] or 0) + (tokens["cache_write_tokens"] or 0)
    if prompt is not None and cached > prompt:
        # Raw Anthropic usage counts input *without* cache: make it inclusive, as OTel does.
        tokens["prompt_tokens"] = prompt = prompt + cached
    if completion is not None and (tokens["reasoning_tokens"] or 0) > completion:
        tokens["completion_tokens"] = completion = completion + (tokens["reasoning_tokens"] or 0)
    if tokens["total_tokens"] is None and (prompt is not None or completion is not None):
        tokens["total_tokens"] = (prompt or 0) + (completion or 0)
    return tokens


def map_costs(attributes: dict[str, Any], picked: dict[str, Any], has_tokens: bool) -> dict[str, Decimal | None]:
    details = json_object(attributes.get(LANGFUSE_COST_KEY))
    costs: dict[str, Decimal | None] = {}
    for name in COST_KEYS:
        value = to_decimal(picked.get(name))
        if value is None and details:
            value = to_decimal(details.get(LANGFUSE_COST_KEYS[name]))
        costs[name] = value
    if costs["total_cost"] is None:
        openlit = to_decimal(attributes.get(OPENLIT_COST_KEY))
        if openlit is not None and not (openlit == 0 and has_tokens):  # 0 = "price unknown" in OpenLIT
            costs["total_cost"] = openlit
        elif (logfire := to_decimal(attributes.get(LOGFIRE_COST_KEY))) is not None:
            costs["total_cost"] = logfire
    return costs


def _seconds_to_us(value: Any, units_per_second: int = 1) -> int | None:
    try:
        us = float(value) / units_per_second * 1_000_000
    except (TypeError, ValueError):
        return None
    # NaN and infinity (also 1e303 s times a million) fail; the upper bound of a TTFT is map_ttft_us's.
    return round(us) if 0 <= us < math.inf else None


def _langfuse_ttft_us(value: Any, start_ns: int) -> int | None:
    if not isinstance(value, str):
        return None
    completion_start = parse_iso_time(value.strip('"'))  # older SDKs double-encode it
    if completion_start is None:
        return None
    delta = completion_start - (EPOCH + timedelta(0, 0, start_ns // 1000))
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return us if us >= 0 else None


def map_ttft_us(span: OtlpSpan, picked: dict[str, Any]) -> int | None:
    """Time to first token from whichever attribute or event carries it; None when there is none
    or it is longer than a span can last (a wrong value loses the TTFT, not the span)."""
    ttft_us = _ttft_us(span, picked)
    return ttft_us if ttft_us is not None and ttft_us <= MAX_DURATION_US else None


def _ttft_us(span: OtlpSpan, picked: dict[str, Any]) -> int | None:
    attributes = span.attributes
    if (value := attributes.get("gen_ai.response.time_to_first_chunk")) is not None:
        return _seconds_to_us(value)
    if (value := attributes.get("langfuse.observation.completion_start_time")) is not None:
        return _langfuse_ttft_us(value, span.start_ns)
    if (value := picked.get("first_chunk_ms")) is not None:
        return _seconds_to_us(value, 1000) if isinstance(value, int | float | str) else None
    streaming = picked.get("stream") in (True, "true", "True")
    if (value := attributes.get("gen_ai.server.time_to_first_token")) is not None and streaming:
        return _seconds_to_us(value)  # OpenLIT sets it to the whole duration when not streaming
    for event in span.events:
        if event.name in FIRST_TOKEN_EVENTS and event.time_ns >= span.start_ns > 0:
            return (event.time_ns - span.start_ns) // 1000
    return None


def map_status(span: OtlpSpan, picked: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(status_code, error_type, error_message)."""
    attributes = span.attributes
    exceptions = [e for e in span.events if e.name == "exception"]
    error_type = text(attributes.get("error.type"))
    if error_type is None and exceptions:
        error_type = text(exceptions[-1].attributes.get("exception.type"))
    status = {1: STATUS_OK, 2: STATUS_ERROR}.get(span.status_code, STATUS_UNSET)
    if attributes.get("langfuse.observation.level") == "ERROR":
        status = STATUS_ERROR
    if status == STATUS_UNSET and (error_type or exceptions):
        status = STATUS_ERROR
    if status != STATUS_ERROR:
        return status, error_type, None
    message = span.status_message or None
    if message is None and exceptions:
        last = exceptions[-1].attributes
        exception_text = text(last.get("exception.message"), MAX_ERROR_MESSAGE)
        if exception_text:
            prefix = text(last.get("exception.type"))
            message = f"{prefix}: {exception_text}" if prefix else exception_text
    message = message or text(picked.get("error_message"), MAX_ERROR_MESSAGE) or error_type
    return status, error_type, (message[:MAX_ERROR_MESSAGE] if message else None)


def map_environment(span: OtlpSpan) -> str:
    for key in ENVIRONMENT_KEYS:
        for source in (span.attributes, span.resource):
            if (value := source.get(key)) is not None and (found := text(value)):
                return found
    return ""


def map_finish_reason(picked: dict[str, Any]) -> str | None:
    reason = text(picked.get("finish_reason"))
    return reason.lower() if reason else None


# Whether an attribute name holds message content, by name: the same few names come with every
# span, and testing one against the 15 prefixes took ~170 ns, a lookup ~50 (~0.9 µs a span of 8
# attributes). Bounded, since any name may arrive.
_content_names: dict[str, bool] = {}
CONTENT_NAMES_LIMIT = 10_000


def _is_content(name: str) -> bool:
    content = name.startswith(CONTENT_PREFIXES)
    if len(_content_names) < CONTENT_NAMES_LIMIT:
        _content_names[name] = content
    return content


def _kept(attributes: dict[str, Any], drop_content: bool = False) -> dict[str, Any]:
    kept = {}
    for key, value in attributes.items():
        if drop_content:
            content = _content_names.get(key)
            if content or (content is None and _is_content(key)):
                continue
        if type(value) is str and len(value) > MAX_ATTRIBUTE_STRING:
            value = value[:MAX_ATTRIBUTE_STRING] + "…"
        kept[key] = value
    return kept


def stored_attributes(span: OtlpSpan, resource: dict[str, Any] | None = None) -> dict[str, Any]:
    """Span attributes without message content, plus resource and scope kept apart (`resource`:
    the span's resource as kept, when the batch already made it for the spans sharing it)."""
    return {
        "span": _kept(span.attributes, drop_content=True),
        "resource": _kept(span.resource) if resource is None else resource,
        "scope": {"name": span.scope_name, "version": span.scope_version},
    }


# ---- the span ---------------------------------------------------------------------------------


def map_span(
    span: OtlpSpan,
    picked: dict[str, Any] | None = None,
    environment: str | None = None,
    kept_resource: dict[str, Any] | None = None,
) -> SpanRecord | list[str]:
    """The record for an LLM span, or why it cannot be stored (`picked`, `environment` and
    `kept_resource`: its `pick`, `map_environment` and stored resource, when the batch already
    made them)."""
    errors = []
    if span.trace_id is None:
        errors.append(MSG_BAD_TRACE_ID)
    if span.span_id is None:
        errors.append(MSG_BAD_SPAN_ID)
    if span.start_ns <= 0:
        errors.append(MSG_NO_START)
    elif span.end_ns - span.start_ns > MAX_DURATION_US * 1000:
        errors.append(MSG_TOO_LONG)
    if errors:
        return errors
    attributes = span.attributes
    picked = pick(attributes) if picked is None else picked
    tokens = map_tokens(attributes, picked)
    has_tokens = tokens["prompt_tokens"] is not None or tokens["completion_tokens"] is not None
    costs = map_costs(attributes, picked, has_tokens)
    status, error_type, error_message = map_status(span, picked)
    duration_us = (span.end_ns - span.start_ns) // 1000 if span.end_ns >= span.start_ns > 0 else None
    return SpanRecord(
        trace_id=span.trace_id or "",
        span_id=span.span_id or "",
        parent_span_id=span.parent_span_id,
        ts=EPOCH + timedelta(0, 0, span.start_ns // 1000),  # microseconds: positional, ~0.3 µs faster
        span_name=span.name[:MAX_TEXT],
        provider=map_provider(attributes, picked),
        model=map_model(attributes, picked),
        environment=map_environment(span) if environment is None else environment,
        status_code=status,
        duration_us=duration_us,
        ttft_us=map_ttft_us(span, picked),
        error_type=error_type,
        error_message=error_message,
        finish_reason=map_finish_reason(picked),
        user_id=text(picked.get("user_id")),
        session_id=text(picked.get("session_id")),
        attributes=stored_attributes(span, kept_resource),
        prompt_tokens=tokens["prompt_tokens"],
        completion_tokens=tokens["completion_tokens"],
        total_tokens=tokens["total_tokens"],
        cache_read_tokens=tokens["cache_read_tokens"],
        cache_write_tokens=tokens["cache_write_tokens"],
        reasoning_tokens=tokens["reasoning_tokens"],
        prompt_cost=costs["prompt_cost"],
        completion_cost=costs["completion_cost"],
        total_cost=costs["total_cost"],
    )


def _trace_context(
    spans: Sequence[OtlpSpan], picks: Sequence[dict[str, Any]], environments: Sequence[str]
) -> dict[str, dict[str, str]]:
    """User, session and environment per trace, from any span of the batch that has them.

    They often sit only on the root or an agent span (pitfall 11), not on the LLM span.
    """
    context: dict[str, dict[str, str]] = {}
    for span, picked, environment in zip(spans, picks, environments, strict=True):
        if span.trace_id is None:
            continue
        found = context.setdefault(span.trace_id, {})
        for field in ("user_id", "session_id"):
            if field not in found and (value := text(picked.get(field))):
                found[field] = value
        if "environment" not in found and environment:
            found["environment"] = environment
    return context


def map_batch(spans: Sequence[OtlpSpan]) -> tuple[list[tuple[int, SpanRecord | list[str]]], int]:
    """(index, record or errors) for every LLM span, and how many spans were not LLM calls.

    When an LLM span is the parent of another LLM span in the batch (a framework span
    wrapping the SDK's), only the inner one is counted, so usage is not counted twice.
    """
    picks = [pick(span.attributes) for span in spans]
    llm = [(index, span) for index, span in enumerate(spans) if is_llm_span(span, picks[index])]
    llm_parents = {span.parent_span_id for _, span in llm if span.parent_span_id}
    leaf = [(index, span) for index, span in llm if span.span_id is None or span.span_id not in llm_parents]
    environments = [map_environment(span) for span in spans]
    context = _trace_context(spans, picks, environments)
    results: list[tuple[int, SpanRecord | list[str]]] = []
    # The spans of one resource share its attributes (one dict, decoded once): kept once for all.
    kept_resources: dict[int, dict[str, Any]] = {}
    for index, span in leaf:
        kept_resource = kept_resources.get(id(span.resource))
        if kept_resource is None:
            kept_resource = kept_resources[id(span.resource)] = _kept(span.resource)
        mapped = map_span(span, picks[index], environments[index], kept_resource)
        if isinstance(mapped, SpanRecord):
            inherited = context.get(mapped.trace_id, {})
            mapped.user_id = mapped.user_id or inherited.get("user_id")
            mapped.session_id = mapped.session_id or inherited.get("session_id")
            mapped.environment = mapped.environment or inherited.get("environment", "")
        results.append((index, mapped))
    return results, len(spans) - len(leaf)
