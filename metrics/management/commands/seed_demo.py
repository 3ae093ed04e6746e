"""manage.py seed_demo [--org SLUG] [--password P]: a demo organization with one user per role."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts import services

DEFAULT_DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create (or refresh) a demo organization with users <org>-admin, -developer, -viewer, -billing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default="demo", help="Organization slug (default: demo).")
        parser.add_argument("--password", default=None, help="Password for every demo user.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        slug = options["org"]
        organization = services.demo_accounts_seed(slug=slug, password=password, name=f"{slug.title()} organization")
        users = ", ".join(f"{slug}-{role}" for role in ("admin", "developer", "viewer", "billing"))
        self.stdout.write(self.style.SUCCESS(f"Organization '{organization.slug}' ready; users: {users}"))
