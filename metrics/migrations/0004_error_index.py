"""Partial index on error spans (raw SQL: it is created on the partitioned parent)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0003_rollups")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0004_error_index.sql").read_text(),
            reverse_sql="DROP INDEX IF EXISTS llm_traces_org_errors_ts;",
        )
    ]
