"""Creates the partitioned llm_traces table (raw SQL: Django cannot declare partitioning)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0001_initial")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0002_llm_traces.sql").read_text(),
            reverse_sql=(SQL / "0002_llm_traces_reverse.sql").read_text(),
        )
    ]
