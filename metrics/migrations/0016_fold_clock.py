"""When the last fold began, so that background folds are paced deployment-wide (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0015_queue_carries_numbers")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0016_fold_clock.sql").read_text(),
            reverse_sql="DROP TABLE llm_rollup_fold_clock;",
        )
    ]
