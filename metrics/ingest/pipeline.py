"""The one ingest pipeline behind both doors: check, price, store once, report.

Valid spans of a batch are stored even when others are rejected; the ones stored are
committed (with their rollups) in one transaction before the caller answers.
"""

from collections.abc import Iterable
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


def check_record(record: SpanRecord, *, now: datetime, retention_days: int) -> list[str]:
    """Rules that hold for spans from any door (times within what can be stored and kept)."""
    errors = []
    if record.ts < now - timedelta(days=retention_days):
        errors.append(MSG_TOO_OLD.format(days=retention_days))
    future_hours = settings.INGEST_MAX_FUTURE_HOURS
    if record.ts > now + timedelta(hours=future_hours):
        errors.append(MSG_TOO_NEW.format(hours=future_hours))
    return errors


def ingest(
    organization: Tenant,
    candidates: Iterable[tuple[int, SpanRecord | list[str]]],
    *,
    skipped: int = 0,
) -> IngestResult:
    """Stores the valid records among `candidates` ((index, record or errors) pairs)."""
    now = datetime.now(UTC)
    result = IngestResult(skipped=skipped)
    valid: list[SpanRecord] = []
    for index, candidate in candidates:
        errors = (
            candidate
            if isinstance(candidate, list)
            else check_record(candidate, now=now, retention_days=organization.retention_days)
        )
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
