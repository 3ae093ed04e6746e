"""SpanRecord: a span as the pipeline stores it, whichever door it came through."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from metrics.models.spans import STATUS_UNSET


@dataclass(slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    ts: datetime
    provider: str = ""
    model: str = ""
    parent_span_id: str | None = None
    span_name: str = ""
    environment: str = ""
    status_code: str = STATUS_UNSET
    duration_us: int | None = None  # microseconds; stored as duration_ms numeric(12,3)
    ttft_us: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    prompt_cost: Decimal | None = None
    completion_cost: Decimal | None = None
    total_cost: Decimal | None = None
    error_type: str | None = None
    error_message: str | None = None
    finish_reason: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def has_cost(self) -> bool:
        return self.total_cost is not None or self.prompt_cost is not None or self.completion_cost is not None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A span that could not be accepted, with the reasons (index is its place in the request)."""

    index: int
    errors: list[str]


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0  # newly stored
    duplicates: int = 0  # valid, but already stored earlier (re-sent): not counted twice
    skipped: int = 0  # OTLP spans that are not LLM calls
    rejected: list[Rejection] = field(default_factory=list)
