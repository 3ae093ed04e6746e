"""Seeds the default roles of SPEC §3. Reversible: removes them again if unused."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# Frozen here on purpose: a migration must not change meaning when the catalog evolves.
ROLES = {
    "admin": ("Everything, including API keys", ["metrics:read", "metrics:query", "spans:write", "api_keys:manage"]),
    "developer": ("Reads and queries metrics, sends spans", ["metrics:read", "metrics:query", "spans:write"]),
    "viewer": ("Reads metrics", ["metrics:read"]),
    "billing": ("Reads metrics, for cost reporting", ["metrics:read"]),
}


def seed_roles(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Role = apps.get_model("accounts", "Role")
    for name, (description, permissions) in ROLES.items():
        Role.objects.get_or_create(name=name, defaults={"description": description, "permissions": permissions})


def unseed_roles(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Role = apps.get_model("accounts", "Role")
    Role.objects.filter(name__in=ROLES, memberships__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed_roles, unseed_roles)]
