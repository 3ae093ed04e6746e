"""The queue of spans waiting to be added to the rollups (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0007_error_rollups")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0008_rollup_queue.sql").read_text(),
            reverse_sql="DROP TABLE IF EXISTS llm_rollup_queue;",
        )
    ]
