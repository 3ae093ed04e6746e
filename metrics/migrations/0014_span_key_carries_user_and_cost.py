"""The spans' primary key carries user, session and cost for index-only raw breakdowns (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0013_activity_presence")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0014_span_key_carries_user_and_cost.sql").read_text(),
            reverse_sql=(SQL / "0014_span_key_carries_user_and_cost_reverse.sql").read_text(),
        )
    ]
