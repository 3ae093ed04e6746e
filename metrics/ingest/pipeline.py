"""The one ingest pipeline behind both doors: check, price, store once, report.

Valid spans of a batch are stored even when others are rejected; the ones stored are
committed (with their rollups) in one transaction before the caller answers.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.conf import settings

from metrics.ingest import store
from metrics.ingest.pricing import normalize_provider, price_record
from metrics.ingest.records import IngestResult, Rejection, SpanRecord


class Tenant(Protocol):
    """Whom the spans belong to: an Organization, or the authenticated Principal standing for it."""

    @property
    def pk(self) -> int: ...

    @property
    def retention_days(self) -> int: ...


MSG_TOO_OLD = "start_time is older than the organization's retention of {days} days"
MSG_TOO_NEW = "start_time is more than {hours} hours in the future"


@dataclass(frozen=True, slots=True)
class StorableTimes:
    """The start times a span may have to be stored and kept, worked out once per batch."""

    oldest: datetime
    newest: datetime
    retention_days: int
    future_hours: int


def storable_times(*, now: datetime, retention_days: int) -> StorableTimes:
    future_hours = settings.INGEST_MAX_FUTURE_HOURS
    return StorableTimes(
        oldest=now - timedelta(days=retention_days),
        newest=now + timedelta(hours=future_hours),
        retention_days=retention_days,
        future_hours=future_hours,
    )


def check_times(record: SpanRecord, times: StorableTimes) -> list[str]:
    """Rules that hold for spans from any door (times within what can be stored and kept)."""
    errors = []
    if record.ts < times.oldest:
        errors.append(MSG_TOO_OLD.format(days=times.retention_days))
    if record.ts > times.newest:
        errors.append(MSG_TOO_NEW.format(hours=times.future_hours))
    return errors


def ingest(
    organization: Tenant,
    candidates: Iterable[tuple[int, SpanRecord | list[str]]],
    *,
    skipped: int = 0,
) -> IngestResult:
    """Stores the valid records among `candidates` ((index, record or errors) pairs)."""
    times = storable_times(now=datetime.now(UTC), retention_days=organization.retention_days)
    result = IngestResult(skipped=skipped)
    valid: list[SpanRecord] = []
    for index, candidate in candidates:
        errors = candidate if isinstance(candidate, list) else check_times(candidate, times)
        if errors:
            result.rejected.append(Rejection(index=index, errors=errors))
            continue
        assert isinstance(candidate, SpanRecord)
        candidate.provider = normalize_provider(candidate.provider)
        price_record(organization.pk, candidate)
        valid.append(candidate)
    stored = store.store_records(organization.pk, valid)
    result.accepted = stored
    result.duplicates = len(valid) - stored
    return result
