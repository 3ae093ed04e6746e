"""Retention: raw spans per organization (dropping whole day partitions), rollups per grain."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max

from accounts.models import Organization
from metrics.rollups.measures import ROLLUP_RETENTION_DAYS
from metrics.rollups.partitions import create_partitions_ahead, existing_partitions, forget_partitions

DEFAULT_RETENTION_DAYS = 90


@dataclass
class RetentionReport:
    dropped_partitions: list[str] = field(default_factory=list)
    deleted_spans: int = 0
    deleted_rollup_rows: dict[str, int] = field(default_factory=dict)


def enforce_retention(*, now: datetime | None = None) -> RetentionReport:
    """Drops what is past retention; creates the next week's partitions while at it.

    A day partition is dropped once it is older than the longest retention of any
    organization; organizations with shorter retention lose their older rows by DELETE.
    """
    now = now or datetime.now(UTC)
    report = RetentionReport()
    longest = Organization.objects.aggregate(days=Max("retention_days"))["days"] or DEFAULT_RETENTION_DAYS
    keep_from: date = (now - timedelta(days=longest)).date()
    for day, name in sorted(existing_partitions().items()):
        if day < keep_from:  # the whole day ends before the oldest instant anyone keeps
            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE "{name}"')
            report.dropped_partitions.append(name)
    if report.dropped_partitions:
        forget_partitions()
    with transaction.atomic(), connection.cursor() as cursor:
        for organization in Organization.objects.filter(retention_days__lt=longest):
            cutoff = now - timedelta(days=organization.retention_days)
            cursor.execute("DELETE FROM llm_traces WHERE org_id = %s AND ts < %s", [organization.pk, cutoff])
            report.deleted_spans += cursor.rowcount
        for table, days in ROLLUP_RETENTION_DAYS.items():
            cursor.execute(f"DELETE FROM {table} WHERE bucket < %s", [now - timedelta(days=days)])
            report.deleted_rollup_rows[table] = cursor.rowcount
    create_partitions_ahead(days_ahead=7, today=now.date())
    return report
