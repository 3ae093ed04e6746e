"""Quantiles kept beside the sketches of the models rollups (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SQL = Path(__file__).parent / "sql"


def fill_stored_quantiles(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Existing rows get their quantiles from their own sketches; upserts keep them from now on."""
    from metrics.rollups.maintenance import stored_quantiles_sql
    from metrics.rollups.measures import ROLLUPS_BY_TABLE

    for table in ("llm_models_1hour", "llm_models_1day"):  # the tables as they were at this migration
        schema_editor.execute(f"UPDATE {table} SET {stored_quantiles_sql(ROLLUPS_BY_TABLE[table])}")


class Migration(migrations.Migration):
    dependencies = [("metrics", "0009_model_rollups")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0010_stored_quantiles.sql").read_text(),
            reverse_sql=(SQL / "0010_stored_quantiles_reverse.sql").read_text(),
        ),
        migrations.RunPython(fill_stored_quantiles, migrations.RunPython.noop),
    ]
