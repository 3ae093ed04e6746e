"""Creates the rollup tables and the sketch functions they use (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0002_llm_traces")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0003_rollups.sql").read_text(),
            reverse_sql=(SQL / "0003_rollups_reverse.sql").read_text(),
        )
    ]
