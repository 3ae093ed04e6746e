"""manage.py create_api_key --org demo --name ci --scopes spans:write,metrics:read"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import selectors, services
from accounts.scopes import API_KEY_SCOPES


class Command(BaseCommand):
    help = "Create an API key for an organization and print its secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scopes", default=",".join(API_KEY_SCOPES), help=f"Comma list out of {', '.join(API_KEY_SCOPES)}."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = selectors.organization_by_slug(slug=options["org"])
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        try:
            issued = services.api_key_issue(organization=organization, name=options["name"], scopes=scopes)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(issued.secret)
