"""Attribute mapping per convention: each fixture is what that instrumentation really sends."""

import json
import random
from decimal import Decimal

import pytest

from metrics.ingest import mapping
from metrics.ingest.mapping import (
    CONTENT_PREFIXES,
    MSG_TOO_LONG,
    PRIORITY_TABLES,
    is_llm_span,
    map_batch,
    map_span,
    pick,
)
from metrics.ingest.otlp import OtlpEvent, OtlpSpan
from metrics.ingest.records import SpanRecord
from metrics.ingest.validation import MAX_DURATION_US, MAX_TOKENS

START = 1_764_000_000_000_000_000  # ns
END = START + 1_500_000_000  # 1.5 s later


def otlp_span(attributes, *, resource=None, status=0, message="", events=(), span_id="00f067aa0ba902b7", parent=None):
    return OtlpSpan(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id=span_id,
        parent_span_id=parent,
        name="test",
        start_ns=START,
        end_ns=END,
        status_code=status,
        status_message=message,
        attributes=attributes,
        resource=resource or {},
        events=list(events),
    )


def mapped(attributes, **kwargs) -> SpanRecord:
    record = map_span(otlp_span(attributes, **kwargs))
    assert isinstance(record, SpanRecord), record
    return record


def test_genai_current_conventions():
    record = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.response.model": "claude-sonnet-4-20250514",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.output_tokens": 700,
            "gen_ai.usage.cache_read.input_tokens": 3000,
            "gen_ai.usage.cache_write.input_tokens": 1000,
            "gen_ai.usage.reasoning.output_tokens": 100,
            "gen_ai.response.finish_reasons": ["end_turn"],
            "gen_ai.response.time_to_first_chunk": 0.35,
            "gen_ai.conversation.id": "conv-9",
        },
        resource={"deployment.environment.name": "production", "service.name": "bot"},
    )
    assert (record.provider, record.model) == ("anthropic", "claude-sonnet-4-20250514")
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (5000, 700, 5700)
    assert (record.cache_read_tokens, record.cache_write_tokens, record.reasoning_tokens) == (3000, 1000, 100)
    assert record.finish_reason == "end_turn"
    assert record.ttft_us == 350_000
    assert record.duration_us == 1_500_000
    assert record.session_id == "conv-9"
    assert record.environment == "production"
    assert record.status_code == "UNSET"  # plain OTel leaves success UNSET: not a failure


def test_genai_older_conventions():
    record = mapped(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": "120",  # int64 as a JSON string
            "gen_ai.usage.completion_tokens": 30.0,  # a JS number
            "deployment.environment": "staging",
        }
    )
    assert (record.provider, record.model) == ("openai", "gpt-4o-mini")
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (120, 30, 150)
    assert record.environment == "staging"


def test_token_counts_past_the_cap_are_dropped_and_the_span_kept():
    record = mapped(
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": MAX_TOKENS,
            "gen_ai.usage.output_tokens": MAX_TOKENS + 1,
        }
    )
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (MAX_TOKENS, None, MAX_TOKENS)


def test_openllmetry_legacy():
    record = mapped(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.response.model": "gpt-3.5-turbo-0125",
            "gen_ai.usage.prompt_tokens": 50,
            "gen_ai.usage.completion_tokens": 10,
            "llm.usage.total_tokens": 60,
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.prompt.0.content": "secret user prompt",
            "traceloop.association.properties.user_id": "u-7",
            "traceloop.association.properties.session_id": "s-7",
        },
        status=1,
    )
    assert record.provider == "openai"  # capitalised legacy value, normalised
    assert record.total_tokens == 60
    assert record.finish_reason == "stop"
    assert (record.user_id, record.session_id) == ("u-7", "s-7")
    assert record.status_code == "OK"
    assert "gen_ai.prompt.0.content" not in record.attributes["span"]  # content is never stored


def test_openllmetry_new_with_anthropic_cache():
    record = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.total_tokens": 1280,
            "gen_ai.usage.cache_creation.input_tokens": 1000,
            "gen_ai.is_streaming": True,
        }
    )
    assert (record.prompt_tokens, record.cache_write_tokens, record.total_tokens) == (1200, 1000, 1280)


def test_openinference():
    record = mapped(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "azure",
            "llm.system": "openai",
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 900,
            "llm.token_count.completion": 100,
            "llm.token_count.total": 1000,
            "llm.token_count.prompt_details.cache_read": 400,
            "llm.cost.prompt": 0.002,
            "llm.cost.completion": 0.001,
            "llm.cost.total": 0.003,
            "user.id": "ann",
            "session.id": "sess-1",
            "input.value": "the whole prompt",
        },
        events=[OtlpEvent("First Token Stream Event", START + 250_000_000, {})],
    )
    assert (record.provider, record.model) == ("azure", "gpt-4o")  # the hosting provider prices it
    assert (record.prompt_tokens, record.completion_tokens, record.cache_read_tokens) == (900, 100, 400)
    assert (record.prompt_cost, record.completion_cost, record.total_cost) == (
        Decimal("0.002"),
        Decimal("0.001"),
        Decimal("0.003"),
    )
    assert record.ttft_us == 250_000
    assert (record.user_id, record.session_id) == ("ann", "sess-1")
    assert "input.value" not in record.attributes["span"]


def test_openinference_chain_spans_are_not_llm_calls():
    assert not is_llm_span(otlp_span({"openinference.span.kind": "CHAIN", "llm.model_name": "gpt-4o"}))


def test_openlit():
    record = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "mistral",
            "gen_ai.request.model": "mistral-large-latest",
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.output_tokens": 60,
            "gen_ai.client.token.usage": 360,
            "gen_ai.usage.cost": 0.0,  # OpenLIT's "unknown price"
            "gen_ai.server.time_to_first_token": 0.9,
            "gen_ai.request.stream": False,  # not streaming: that "TTFT" is the whole duration
            "gen_ai.environment": "dev",
        }
    )
    assert record.provider == "mistral"
    assert record.total_tokens == 360
    assert record.total_cost is None  # 0.0 with tokens means unknown: priced later
    assert record.ttft_us is None
    assert record.environment == "dev"


def test_openlit_streaming_ttft_and_known_cost():
    record = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.cost": 0.00123,
            "gen_ai.server.time_to_first_token": 0.2,
            "gen_ai.request.stream": True,
        }
    )
    assert record.total_cost == Decimal("0.00123")
    assert record.ttft_us == 200_000


def test_langfuse():
    record = mapped(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "gpt-4.1",
            "gen_ai.request.model": "gpt-4.1-2025-04-14",
            "langfuse.observation.usage_details": json.dumps({"input": 400, "output": 50, "total": 450}),
            "langfuse.observation.cost_details": json.dumps({"input": 0.0008, "output": 0.0004, "total": 0.0012}),
            "langfuse.observation.completion_start_time": '"2025-11-24T16:00:00.500000Z"',
            "langfuse.user.id": "lf-user",
            "langfuse.session.id": "lf-session",
            "langfuse.environment": "canary",
            "langfuse.observation.level": "ERROR",
            "langfuse.observation.status_message": "upstream timeout",
        }
    )
    assert record.model == "gpt-4.1"  # Langfuse's own name comes first
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (400, 50, 450)
    assert record.total_cost == Decimal("0.0012")
    assert (record.user_id, record.session_id, record.environment) == ("lf-user", "lf-session", "canary")
    assert record.status_code == "ERROR"
    assert record.error_message == "upstream timeout"
    assert record.ttft_us is not None


def test_vercel_ai_sdk_inner_spans_only():
    inner = {
        "ai.operationId": "ai.streamText.doStream",
        "ai.model.provider": "openai.chat",
        "ai.model.id": "gpt-4o",
        "ai.usage.inputTokens": 70,
        "ai.usage.outputTokens": 30,
        "ai.response.msToFirstChunk": 410.5,
        "ai.telemetry.metadata.userId": "v-user",
    }
    outer = {**inner, "ai.operationId": "ai.streamText"}
    assert not is_llm_span(otlp_span(outer))
    record = mapped(inner)
    assert (record.provider, record.model, record.total_tokens) == ("openai", "gpt-4o", 100)
    assert record.ttft_us == 410_500
    assert record.user_id == "v-user"


@pytest.mark.parametrize("operation", ["invoke_agent", "execute_tool", "retrieval", "create_agent"])
def test_agent_and_tool_spans_are_skipped_even_with_usage(operation):
    span = otlp_span(
        {"gen_ai.operation.name": operation, "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}
    )
    assert not is_llm_span(span)


def test_a_plain_http_span_is_not_an_llm_call():
    assert not is_llm_span(otlp_span({"http.method": "GET", "http.route": "/"}))


def test_a_model_with_tokens_is_an_llm_call_in_any_convention():
    assert is_llm_span(otlp_span({"some.vendor.model": "x", "gen_ai.request.model": "m", "llm.token_count.prompt": 3}))


def test_exception_events_make_an_unset_span_an_error():
    record = mapped(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        events=[OtlpEvent("exception", END, {"exception.type": "TimeoutError", "exception.message": "read timed out"})],
    )
    assert record.status_code == "ERROR"
    assert record.error_type == "TimeoutError"
    assert record.error_message == "TimeoutError: read timed out"
    assert record.prompt_tokens is None and record.model == "gpt-4o"


def test_raw_anthropic_usage_without_cache_is_made_inclusive():
    record = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-5-sonnet",
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.cache_read.input_tokens": 16399,
        }
    )
    assert record.prompt_tokens == 16406


def test_server_address_gives_the_provider():
    record = mapped({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "server.address": "api.groq.com"})
    assert record.provider == "groq"


def test_zero_ids_and_missing_start_are_rejected():
    span = otlp_span({"gen_ai.operation.name": "chat"})
    span.trace_id = None
    span.start_ns = 0
    errors = map_span(span)
    assert isinstance(errors, list) and len(errors) == 2


def test_a_span_longer_than_a_column_holds_is_rejected():
    twenty_days = otlp_span({"gen_ai.operation.name": "chat"})
    twenty_days.end_ns = START + 20 * 86_400 * 10**9
    assert map_span(twenty_days) == [MSG_TOO_LONG]
    eleven_days = otlp_span({"gen_ai.operation.name": "chat"})
    eleven_days.end_ns = START + MAX_DURATION_US * 1000
    record = map_span(eleven_days)
    assert isinstance(record, SpanRecord) and record.duration_us == MAX_DURATION_US


@pytest.mark.parametrize(
    ("attributes", "events"),
    [
        ({"gen_ai.response.time_to_first_chunk": 1e300}, ()),
        ({"gen_ai.response.time_to_first_chunk": 1e303}, ()),  # infinite in µs
        ({"gen_ai.response.time_to_first_chunk": float("inf")}, ()),
        ({"gen_ai.response.time_to_first_chunk": float("nan")}, ()),
        ({"gen_ai.response.time_to_first_chunk": 2e6}, ()),  # 23 days
        ({"ai.response.msToFirstChunk": "not a number"}, ()),
        ({"ai.response.msToFirstChunk": 1e15}, ()),
        ({"langfuse.observation.completion_start_time": "9999-01-01T00:00:00Z"}, ()),
        ({}, (OtlpEvent("ai.stream.firstChunk", START + 10**18, {}),)),
    ],
    ids=["1e300-s", "1e303-s", "inf", "nan", "23-days", "text-ms", "1e15-ms", "year-9999", "event-31-years-later"],
)
def test_a_time_to_first_token_no_column_can_hold_is_dropped_and_the_span_kept(attributes, events):
    record = mapped({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", **attributes}, events=events)
    assert record.ttft_us is None
    assert record.duration_us == 1_500_000


def test_end_before_start_gives_no_duration():
    span = otlp_span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
    span.end_ns = START - 5
    record = map_span(span)
    assert isinstance(record, SpanRecord) and record.duration_us is None


def test_a_batch_fills_user_and_session_from_the_root_and_skips_wrapping_llm_spans():
    # given: a root span with the user, a framework LLM span wrapping the SDK's LLM span
    root = otlp_span({"user.id": "root-user", "session.id": "root-session"}, span_id="1000000000000001")
    framework = otlp_span(
        {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10},
        span_id="1000000000000002",
        parent="1000000000000001",
    )
    sdk = otlp_span(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10},
        span_id="1000000000000003",
        parent="1000000000000002",
    )
    # when
    results, skipped = map_batch([root, framework, sdk])
    # then: only the innermost LLM span counts, and it inherits the trace's user and session
    assert skipped == 2
    ((index, record),) = results
    assert index == 2
    assert isinstance(record, SpanRecord)
    assert (record.user_id, record.session_id) == ("root-user", "root-session")


def test_pick_equals_probing_each_table_in_priority_order():
    """pick() reads a span's attributes once; the answer must be the table-by-table probe's."""

    def probe(attributes, keys):
        for key in keys:
            value = attributes.get(key)
            if value not in (None, "", []):
                return value
        return None

    rng = random.Random(7)
    names = [key for keys in PRIORITY_TABLES.values() for key in keys] + ["http.method", "service.name"]
    values = [None, "", [], "x", " ", 0, 12, 3.5, False, ["a"], {"k": 1}]
    for _ in range(2000):
        attributes = {name: rng.choice(values) for name in rng.sample(names, rng.randint(0, 12))}
        picked = pick(attributes)
        for field, keys in PRIORITY_TABLES.items():
            assert picked.get(field) == probe(attributes, keys), (field, attributes)


def test_spans_of_two_resources_in_one_batch_each_keep_their_own_resource():
    # given: two resources (one with a string longer than is kept), two chat spans under each
    long_value = "v" * 1500
    first = {"service.name": "chatbot", "deployment.environment.name": "prod", "notes": long_value}
    second = {"service.name": "indexer", "host.name": "box-2"}
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}
    spans = [
        otlp_span(chat, resource=resource, span_id=f"{i + 1:016x}")
        for i, resource in enumerate([first, second, first, second])
    ]
    # when
    results, skipped = map_batch(spans)
    # then: each record stores its own resource, long strings cut as for span attributes
    assert skipped == 0
    stored = [record.attributes["resource"] for _, record in results if isinstance(record, SpanRecord)]
    expected_first = {**first, "notes": "v" * 1000 + "…"}
    assert stored == [expected_first, second, expected_first, second]


@pytest.mark.parametrize("remembered", [10_000, 0])
def test_message_content_is_never_stored_whether_its_names_are_remembered_or_not(monkeypatch, remembered):
    # given: a span with an attribute under every content prefix, beside attributes that are not
    # content (one sharing a prefix's first words), and room to remember `remembered` names
    monkeypatch.setattr(mapping, "_content_names", {})
    monkeypatch.setattr(mapping, "CONTENT_NAMES_LIMIT", remembered)
    content = {f"{prefix}{suffix}": "secret" for prefix in CONTENT_PREFIXES for suffix in ("", ".0.content")}
    kept = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.completion_tokens": 5}
    attributes = {**content, **kept, "gen_ai.usage.input_tokens": 3}
    # when: mapped twice (the second time the names are known, if remembered)
    records = [mapped(dict(attributes)) for _ in range(2)]
    # then: every content attribute dropped, everything else kept, both times
    expected = {**kept, "gen_ai.usage.input_tokens": 3}
    assert [record.attributes["span"] for record in records] == [expected, expected]
    assert len(mapping._content_names) == min(remembered, len(attributes))


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (0, 0),
        (3119, 3119),
        (MAX_TOKENS, MAX_TOKENS),
        (MAX_TOKENS + 1, None),
        (-1, None),
        (2**70, None),
        (True, None),
        (False, None),
        (12.9, 12),
        ("12", 12),
        ("12.5", 12),
        ("1e3", 1000),
        ("twelve", None),
        (float("nan"), None),
        (float("inf"), None),
        (None, None),
        ([3], None),
    ],
)
def test_token_counts_are_read_from_every_type_they_arrive_as(sent, read):
    assert mapping.to_int(sent) == read
