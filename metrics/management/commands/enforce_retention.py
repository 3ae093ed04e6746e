"""manage.py enforce_retention: drop expired partitions and rollup rows (run it daily)."""

from typing import Any

from django.core.management.base import BaseCommand

from metrics.rollups.retention import enforce_retention


class Command(BaseCommand):
    help = "Drop raw spans past each organization's retention and rollup rows past theirs."

    def handle(self, *args: Any, **options: Any) -> None:
        report = enforce_retention()
        self.stdout.write(f"dropped partitions: {', '.join(report.dropped_partitions) or 'none'}")
        self.stdout.write(f"deleted spans (shorter org retention): {report.deleted_spans}")
        for table, rows in report.deleted_rollup_rows.items():
            self.stdout.write(f"{table}: deleted {rows} rows")
