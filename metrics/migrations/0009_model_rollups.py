"""Rollups by provider and model only (raw SQL, commented).

Spans already stored get their rows from rebuild_rollups, as in 0006.
"""

from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SQL = Path(__file__).parent / "sql"
NEW_TABLES = ("llm_models_1hour", "llm_models_1day")


def fill_model_rollups(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from metrics.rollups.rebuild import fill_new_rollup_tables

    fill_new_rollup_tables(NEW_TABLES)


class Migration(migrations.Migration):
    atomic = False  # one transaction per rebuilt day, not one for the whole history

    dependencies = [("metrics", "0008_rollup_queue")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0009_model_rollups.sql").read_text(),
            reverse_sql="DROP TABLE IF EXISTS llm_models_1hour, llm_models_1day;",
        ),
        migrations.RunPython(fill_model_rollups, migrations.RunPython.noop),
    ]
