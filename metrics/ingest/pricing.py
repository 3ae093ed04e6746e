"""Cost of a span that carries none: the admin's ModelPrice first, then the genai-prices package.

Prices are looked up once per (org, provider, model, day) and cached in the process (per part
of the day for a model whose price changes with the time of day); the admin table is re-read
every PRICE_TABLE_TTL_SECONDS. Arithmetic is Decimal throughout.
A span whose price cannot be found keeps NULL costs (unknown is not free).
"""

import fnmatch
import logging
import threading
import time
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from functools import lru_cache
from typing import Any

from metrics.ingest.records import SpanRecord
from metrics.models.pricing import ModelPrice

logger = logging.getLogger(__name__)

PRICE_TABLE_TTL_SECONDS = 30
MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-10")  # the scale of the cost columns

# Provider names as instrumentations send them (lowercased) → our canonical provider id,
# which is also genai-prices' provider id where it has one (otel-genai-mapping.md §3).
PROVIDER_ALIASES: dict[str, str] = {
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "gemini": "google",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "together": "together",
    "together_ai": "together",
    "togetherai": "together",
    "ibm.watsonx.ai": "ibm",
    "watsonx": "ibm",
    "hugging_face": "huggingface",
}
# Self-hosted runtimes: nothing to pay a vendor, so their cost is genuinely zero.
FREE_PROVIDERS = frozenset({"ollama", "vllm", "huggingface"})


def normalize_provider(value: str | None) -> str:
    name = (value or "").strip().lower()
    return PROVIDER_ALIASES.get(name, name)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None

    def costs(self, record: SpanRecord) -> tuple[Decimal, Decimal]:
        prompt = record.prompt_tokens or 0
        cache_read = record.cache_read_tokens or 0
        cache_write = record.cache_write_tokens or 0
        input_cost = max(0, prompt - cache_read - cache_write) * self.input
        # Most calls use no cache: their terms are skipped rather than added as zeros.
        if cache_read:
            input_cost += cache_read * (self.cache_read if self.cache_read is not None else self.input)
        if cache_write:
            input_cost += cache_write * (self.cache_write if self.cache_write is not None else self.input)
        input_cost /= MILLION
        output_cost = (record.completion_tokens or 0) * self.output / MILLION
        return input_cost.quantize(COST_QUANTUM), output_cost.quantize(COST_QUANTUM)


class _PriceTable:
    """The admin's ModelPrice rows, re-read at most every PRICE_TABLE_TTL_SECONDS."""

    def __init__(self) -> None:
        self._rows: list[ModelPrice] = []
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def rows(self) -> list[ModelPrice]:
        now = time.monotonic()
        if now - self._loaded_at > PRICE_TABLE_TTL_SECONDS:
            with self._lock:
                self._rows = list(ModelPrice.objects.all())
                self._loaded_at = now
                _cached_rates.cache_clear()
        return self._rows

    def invalidate(self) -> None:
        self._loaded_at = 0.0


price_table = _PriceTable()


def _admin_rates(org_id: int, provider: str, model: str, day: date) -> Rates | None:
    def applies(row: ModelPrice) -> bool:
        if row.organization_id not in (None, org_id) or normalize_provider(row.provider) != provider:
            return False
        if row.valid_from and row.valid_from.date() > day:
            return False
        if row.valid_to and row.valid_to.date() <= day:
            return False
        return fnmatch.fnmatchcase(model.lower(), row.model_pattern.lower())

    matches = [row for row in price_table.rows() if applies(row)]
    if not matches:
        return None
    # The org's own price first, then the most specific (longest) pattern.
    best = max(matches, key=lambda row: (row.organization_id is not None, len(row.model_pattern)))
    return Rates(
        input=best.input_price_per_million,
        output=best.output_price_per_million,
        cache_read=best.cache_read_price_per_million,
        cache_write=best.cache_write_price_per_million,
    )


@lru_cache(maxsize=4096)
def _genai_model(provider: str, model: str) -> Any | None:
    """genai-prices' model (its prices over time), trying the provider, then none, then without a vendor/ prefix."""
    from genai_prices import Usage, calc_price

    attempts = [(model, provider or None), (model, None)]
    if "/" in model:
        attempts.append((model.split("/", 1)[1], provider or None))
        attempts.append((model.split("/", 1)[1], None))
    for model_ref, provider_id in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = calc_price(Usage(input_tokens=1, output_tokens=1), model_ref, provider_id=provider_id)
            return result.model
        except (LookupError, ValueError):
            continue
    return None


def _seconds_after_midnight(moment: time_of_day) -> int:
    utc = datetime.combine(date(1970, 1, 1), moment).astimezone(UTC) if moment.tzinfo else moment
    return utc.hour * 3600 + utc.minute * 60 + utc.second


@lru_cache(maxsize=4096)
def _time_of_day_changes(provider: str, model: str) -> tuple[int, ...]:
    """Seconds after UTC midnight at which one of the model's prices starts or ends (e.g. DeepSeek's
    off-peak hours): between two of them the price is one."""
    from genai_prices.types import TimeOfDateConstraint

    info = _genai_model(provider, model)
    if info is None:
        return ()
    constraints = [price.constraint for price in info.prices] if isinstance(info.prices, list) else []
    constraints += [variant.constraint for variant in info.price_variants or ()]
    changes = set()
    for constraint in constraints:
        if isinstance(constraint, TimeOfDateConstraint):
            changes |= {_seconds_after_midnight(constraint.start_time), _seconds_after_midnight(constraint.end_time)}
    return tuple(sorted(changes))


@lru_cache(maxsize=4096)
def _utc_midnight(day: date) -> datetime:
    """One datetime per UTC day, made once: `replace()` on every span took ~1 µs, and the rates'
    cache hashes the same object each time, whose hash is computed once (a new aware datetime
    works out its UTC offset to be hashed). Pricing a span of I1's shape: 4.6 -> 2.7 µs."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def price_instant(provider: str, model: str, ts: datetime) -> datetime:
    """The instant whose prices apply to a call at `ts`: the start of its UTC day, or for a model
    whose price changes with the time of day, the last change before `ts`. One cached lookup then
    serves every call of that stretch, and each call pays what it cost at its own time."""
    if ts.tzinfo is not UTC:  # spans' start times are UTC already
        ts = ts.astimezone(UTC)
    midnight = _utc_midnight(ts.date())
    changes = _time_of_day_changes(provider, model)
    if not changes:
        return midnight
    passed = bisect_right(changes, (ts - midnight).total_seconds())
    return midnight + timedelta(seconds=changes[passed - 1]) if passed else midnight


def load_price_data() -> None:
    """Loads genai-prices' price data now (a server worker calls this at start), not in a request."""
    _genai_model("openai", "gpt-4o")


def _plain_rates(model_price: Any) -> Rates | None:
    """Flat per-token prices, or None when the model has tiers (then genai-prices computes)."""
    input_rate, output_rate = (getattr(model_price, name, None) for name in ("input_mtok", "output_mtok"))
    cache_read, cache_write = (getattr(model_price, name, None) for name in ("cache_read_mtok", "cache_write_mtok"))
    if not (isinstance(input_rate, Decimal) and isinstance(output_rate, Decimal)):
        return None
    if not all(v is None or isinstance(v, Decimal) for v in (cache_read, cache_write)):
        return None
    return Rates(input=input_rate, output=output_rate, cache_read=cache_read, cache_write=cache_write)


@lru_cache(maxsize=4096)
def _cached_rates(org_id: int, provider: str, model: str, when: datetime) -> Rates | Any | None:
    admin = _admin_rates(org_id, provider, model, when.date())
    if admin is not None:
        return admin
    if provider in FREE_PROVIDERS:
        return Rates(Decimal(0), Decimal(0), None, None)
    info = _genai_model(provider, model)
    if info is None:
        return None
    model_price = info.get_prices(when)
    return _plain_rates(model_price) or model_price


def rates_for(org_id: int, provider: str, model: str, when: datetime) -> Rates | Any | None:
    """Flat Rates, genai-prices' tiered price object, or None when the model has no known price at `when`."""
    price_table.rows()  # re-reads the admin table when it is stale
    return _cached_rates(org_id, provider, model, when)


def _tiered_costs(model_price: Any, record: SpanRecord) -> tuple[Decimal, Decimal] | None:
    from genai_prices import Usage

    try:
        price = model_price.calc_price(
            Usage(
                input_tokens=record.prompt_tokens or 0,
                output_tokens=record.completion_tokens or 0,
                cache_read_tokens=record.cache_read_tokens or 0,
                cache_write_tokens=record.cache_write_tokens or 0,
            )
        )
    except (ValueError, LookupError):
        return None
    return Decimal(price["input_price"]).quantize(COST_QUANTUM), Decimal(price["output_price"]).quantize(COST_QUANTUM)


def price_record(org_id: int, record: SpanRecord) -> bool:
    """Fills the costs of a span that has tokens but no cost; False when no price is known."""
    if record.has_cost:
        _complete_costs(record)
        return True
    if record.prompt_tokens is None and record.completion_tokens is None:
        return False
    if not record.model:
        return False
    rates = rates_for(org_id, record.provider, record.model, price_instant(record.provider, record.model, record.ts))
    if rates is None:
        return False
    costs = rates.costs(record) if isinstance(rates, Rates) else _tiered_costs(rates, record)
    if costs is None:
        return False
    record.prompt_cost, record.completion_cost = costs
    record.total_cost = costs[0] + costs[1]
    return True


def _complete_costs(record: SpanRecord) -> None:
    """A total is derived from the parts when only the parts were sent."""
    if record.total_cost is None and record.prompt_cost is not None and record.completion_cost is not None:
        record.total_cost = record.prompt_cost + record.completion_cost
