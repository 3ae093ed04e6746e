"""manage.py seed_demo [--org SLUG] [--password P] [--spans N --days D --seed S]

A demo organization with one user per role and, unless --spans 0, realistic spans with
their rollups. Idempotent: users are reset to the password, and spans are only generated
when the organization has none in the period yet (or with --force).
"""

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts import services
from metrics.demo_data import DatasetSpec, generate_dataset, organization_has_spans_since

DEFAULT_DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create (or refresh) a demo organization: users <org>-admin, -developer, -viewer, -billing, and spans."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default="demo", help="Organization slug (default: demo).")
        parser.add_argument("--password", default=None, help="Password for every demo user.")
        parser.add_argument("--spans", type=int, default=200_000, help="Spans to generate (default 200000; 0: none).")
        parser.add_argument("--days", type=int, default=30, help="Spread over this many days up to now (default 30).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: the same seed gives the same spans.")
        parser.add_argument("--force", action="store_true", help="Generate spans even if the org already has some.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        slug = options["org"]
        organization = services.demo_accounts_seed(slug=slug, password=password, name=f"{slug.title()} organization")
        users = ", ".join(f"{slug}-{role}" for role in ("admin", "developer", "viewer", "billing"))
        self.stdout.write(self.style.SUCCESS(f"Organization '{organization.slug}' ready; users: {users}"))
        spans, days = options["spans"], max(1, options["days"])
        if spans <= 0:
            return
        if not options["force"] and organization_has_spans_since(organization.pk, days):
            self.stdout.write(f"'{slug}' already has spans in the last {days} days; not generating more (--force to).")
            return
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"  generated {done:,}/{total:,} spans ({rate:,.0f}/s)")

        def rollup_progress(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                self.stdout.write(f"  rollups: {done}/{total} days")

        spec = DatasetSpec(org_id=organization.pk, spans=spans, days=days, seed=options["seed"])
        inserted = generate_dataset(spec, progress=progress, rollup_progress=rollup_progress)
        elapsed = time.monotonic() - started
        rate = inserted / elapsed
        summary = f"{inserted:,} spans over {days} days with rollups in {elapsed:.1f}s ({rate:,.0f} spans/s)"
        self.stdout.write(self.style.SUCCESS(summary))
