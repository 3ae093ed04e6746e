"""Dimension-free rollups, error counts in every rollup, identity numbers and bitmaps (raw SQL).

Spans already stored get their new rollup rows from rebuild_rollups, the code that builds
them for every span (rollups are derived data; on an empty database this does nothing).
"""

from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SQL = Path(__file__).parent / "sql"
NEW_TABLES = (
    "llm_totals_1hour",
    "llm_totals_1day",
    "llm_users_bitmap_1hour",
    "llm_users_bitmap_1day",
    "llm_sessions_bitmap_1hour",
    "llm_sessions_bitmap_1day",
)


def fill_new_rollups(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from metrics.rollups.rebuild import fill_new_rollup_tables

    fill_new_rollup_tables(NEW_TABLES)


class Migration(migrations.Migration):
    atomic = False  # one transaction per rebuilt day, not one for the whole history

    dependencies = [("metrics", "0005_array_cat_agg")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0006_totals_and_bitmaps.sql").read_text(),
            reverse_sql=(SQL / "0006_totals_and_bitmaps_reverse.sql").read_text(),
        ),
        migrations.RunPython(fill_new_rollups, migrations.RunPython.noop),
    ]
