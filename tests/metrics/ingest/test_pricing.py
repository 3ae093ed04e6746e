"""Pricing spans without a cost: the admin's prices first, then genai-prices, Decimal throughout."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from metrics.ingest.pricing import normalize_provider, price_record, price_table
from metrics.ingest.records import SpanRecord
from metrics.models import ModelPrice

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_price_table():
    price_table.invalidate()
    yield
    price_table.invalidate()


def record(provider: str, model: str, **tokens) -> SpanRecord:
    return SpanRecord(trace_id="a" * 32, span_id="b" * 16, ts=NOW, provider=provider, model=model, **tokens)


CASES = [
    ("openai", "gpt-4o-2024-08-06", {"prompt_tokens": 12_345, "completion_tokens": 678, "cache_read_tokens": 1000}),
    ("openai", "gpt-4o-mini", {"prompt_tokens": 1, "completion_tokens": 1}),
    (
        "anthropic",
        "claude-3-5-sonnet-20241022",
        {"prompt_tokens": 5000, "completion_tokens": 300, "cache_write_tokens": 2000},
    ),
    ("anthropic", "claude-3-5-haiku", {"prompt_tokens": 777, "completion_tokens": 333, "cache_read_tokens": 700}),
    ("mistral", "mistral-large-latest", {"prompt_tokens": 4321, "completion_tokens": 1234}),
    ("deepseek", "deepseek-chat", {"prompt_tokens": 100_000, "completion_tokens": 9}),
    ("google", "gemini-1.5-pro", {"prompt_tokens": 250_000, "completion_tokens": 1000}),  # a tiered price
]


@pytest.mark.parametrize(("provider", "model", "tokens"), CASES, ids=[c[1] for c in CASES])
def test_costs_equal_genai_prices_to_the_last_digit(provider, model, tokens):
    span = record(provider, model, **tokens)
    assert price_record(1, span)
    reference = calc_price(
        Usage(
            input_tokens=tokens["prompt_tokens"],
            output_tokens=tokens["completion_tokens"],
            cache_read_tokens=tokens.get("cache_read_tokens", 0),
            cache_write_tokens=tokens.get("cache_write_tokens", 0),
        ),
        model,
        provider_id=provider,
    )
    quantum = Decimal("1e-10")
    assert span.prompt_cost == reference.input_price.quantize(quantum)
    assert span.completion_cost == reference.output_price.quantize(quantum)
    assert span.total_cost == span.prompt_cost + span.completion_cost


def test_an_admin_price_beats_genai_prices_and_an_org_price_beats_a_global_one(org, other_org):
    ModelPrice.objects.create(
        provider="openai", model_pattern="gpt-4o*", input_price_per_million=1, output_price_per_million=2
    )
    ModelPrice.objects.create(
        organization=org,
        provider="openai",
        model_pattern="gpt-4o*",
        input_price_per_million=3,
        output_price_per_million=4,
    )
    mine, theirs = (
        record("openai", "gpt-4o", prompt_tokens=1_000_000, completion_tokens=1_000_000),
        record("openai", "gpt-4o", prompt_tokens=1_000_000, completion_tokens=1_000_000),
    )
    price_record(org.pk, mine)
    price_record(other_org.pk, theirs)
    assert (mine.prompt_cost, mine.completion_cost) == (Decimal(3), Decimal(4))
    assert (theirs.prompt_cost, theirs.completion_cost) == (Decimal(1), Decimal(2))


def test_the_most_specific_pattern_wins_and_validity_dates_apply():
    ModelPrice.objects.create(provider="acme", model_pattern="*", input_price_per_million=1, output_price_per_million=1)
    ModelPrice.objects.create(
        provider="acme", model_pattern="acme-large*", input_price_per_million=10, output_price_per_million=10
    )
    ModelPrice.objects.create(
        provider="acme",
        model_pattern="acme-large-v2",
        input_price_per_million=99,
        output_price_per_million=99,
        valid_from=NOW + timedelta(days=10),
    )
    span = record("acme", "acme-large-v2", prompt_tokens=1_000_000, completion_tokens=0)
    price_record(1, span)
    assert span.prompt_cost == Decimal(10)  # the v2 price is not valid yet


def test_an_unknown_model_keeps_null_costs():
    span = record("nobody", "no-such-model", prompt_tokens=10, completion_tokens=10)
    assert price_record(1, span) is False
    assert span.total_cost is None and span.prompt_cost is None


def test_a_span_that_brings_its_cost_keeps_it():
    span = record("openai", "gpt-4o", prompt_tokens=10, completion_tokens=10)
    span.prompt_cost, span.completion_cost = Decimal("0.5"), Decimal("0.25")
    price_record(1, span)
    assert span.total_cost == Decimal("0.75")


def test_self_hosted_models_cost_zero():
    span = record("ollama", "llama3.1:8b", prompt_tokens=10, completion_tokens=10)
    assert price_record(1, span)
    assert span.total_cost == 0


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("OpenAI", "openai"),
        ("gcp.gen_ai", "google"),
        ("x_ai", "x-ai"),
        ("az.ai.inference", "azure"),
        ("MistralAI", "mistral"),
    ],
)
def test_provider_names_are_normalized(raw, normalized):
    assert normalize_provider(raw) == normalized


@pytest.mark.parametrize("hour", [0, 10, 16, 17, 23])
def test_a_call_pays_the_price_of_its_own_time_of_day(hour):
    """DeepSeek is cheaper off-peak (16:30–00:30 UTC): each span is priced at its own time."""
    ts = (NOW - timedelta(days=2)).replace(hour=hour, minute=40, second=0, microsecond=0)
    span = SpanRecord(
        trace_id="a" * 32,
        span_id="b" * 16,
        ts=ts,
        provider="deepseek",
        model="deepseek-chat",
        prompt_tokens=100_000,
        completion_tokens=2_000,
    )
    assert price_record(1, span)
    reference = calc_price(
        Usage(input_tokens=100_000, output_tokens=2_000),
        "deepseek-chat",
        provider_id="deepseek",
        genai_request_timestamp=ts,
    )
    assert span.prompt_cost == reference.input_price.quantize(Decimal("1e-10"))
    assert span.completion_cost == reference.output_price.quantize(Decimal("1e-10"))


def test_off_peak_and_peak_calls_of_one_day_cost_differently():
    day = (NOW - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    peak, off_peak = (
        SpanRecord(
            trace_id="a" * 32,
            span_id=f"{n:016x}",
            ts=day.replace(hour=hour),
            provider="deepseek",
            model="deepseek-chat",
            prompt_tokens=1_000_000,
            completion_tokens=0,
        )
        for n, hour in ((1, 10), (2, 20))
    )
    assert price_record(1, peak) and price_record(1, off_peak)
    assert off_peak.total_cost < peak.total_cost


@pytest.mark.parametrize("remembered", [True, False])
def test_calls_across_many_days_each_pay_their_own_day_s_price(remembered):
    # given: DeepSeek calls at 01:00 UTC (peak) and 20:00 UTC (off-peak) on each of five days,
    # their days' midnights remembered from call to call or forgotten each time
    from metrics.ingest import pricing

    pricing._utc_midnight.cache_clear()
    first = (NOW - timedelta(days=6)).replace(hour=0, minute=0, second=0, microsecond=0)
    times = [first + timedelta(days=day, hours=hour) for day in range(5) for hour in (1, 20)]
    for ts in times * 2:  # the second time, the days are known (if remembered)
        span = SpanRecord(
            trace_id="a" * 32, span_id="b" * 16, ts=ts, provider="deepseek", model="deepseek-chat", prompt_tokens=10**6
        )
        if not remembered:
            pricing._utc_midnight.cache_clear()
        # when
        assert price_record(1, span)
        # then: the price of the call's own time, as genai-prices computes it
        reference = calc_price(
            Usage(input_tokens=10**6, output_tokens=0),
            "deepseek-chat",
            provider_id="deepseek",
            genai_request_timestamp=ts,
        )
        assert span.prompt_cost == reference.input_price.quantize(Decimal("1e-10"))
        assert pricing.price_instant("deepseek", "deepseek-chat", ts).date() == ts.date()
    assert pricing._utc_midnight.cache_info().currsize == (5 if remembered else 1)
