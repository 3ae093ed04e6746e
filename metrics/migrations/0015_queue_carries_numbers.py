"""Queued spans carry their identity numbers (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0014_span_key_carries_user_and_cost")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0015_queue_carries_numbers.sql").read_text(),
            reverse_sql="ALTER TABLE llm_rollup_queue DROP COLUMN user_id_ordinal, DROP COLUMN session_id_ordinal;",
        )
    ]
