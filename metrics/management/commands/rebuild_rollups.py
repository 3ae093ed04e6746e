"""manage.py rebuild_rollups --start 2026-11-01 --end 2026-11-02 [--org SLUG] [--workers N]"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import selectors
from metrics.ingest.validation import parse_iso_time
from metrics.rollups.rebuild import rebuild_rollups


class Command(BaseCommand):
    help = "Recompute the rollups of a time range from the raw spans (same SQL as live ingest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", required=True, help="ISO 8601; no offset means UTC.")
        parser.add_argument("--end", required=True, help="ISO 8601, exclusive.")
        parser.add_argument("--org", default=None, help="Only this organization (slug).")
        parser.add_argument("--workers", type=int, default=1, help="Days rebuilt at once (one connection each).")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = parse_iso_time(options["start"]), parse_iso_time(options["end"])
        if start is None or end is None or start >= end:
            raise CommandError("--start and --end must be ISO 8601 times with start < end.")
        org_id = None
        if options["org"]:
            organization = selectors.organization_by_slug(slug=options["org"])
            if organization is None:
                raise CommandError(f"No organization with slug {options['org']!r}.")
            org_id = organization.pk
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        for rebuilt in rebuild_rollups(start=start, end=end, org_id=org_id, workers=options["workers"]):
            counts = ", ".join(f"{table} {rows}" for table, rows in rebuilt.rows.items())
            self.stdout.write(f"{rebuilt.day:%Y-%m-%d}: {rebuilt.spans} spans → {counts}")
