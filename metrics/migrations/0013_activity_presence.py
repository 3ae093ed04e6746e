"""The activity rollups keep presence only (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0012_sketch_merge_walk")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0013_activity_presence.sql").read_text(),
            reverse_sql=(SQL / "0013_activity_presence_reverse.sql").read_text(),
        ),
        # The models are unmanaged: these change only Django's picture of the tables.
        migrations.RemoveField(model_name="useractivity1day", name="span_count"),
        migrations.RemoveField(model_name="sessionactivity1day", name="span_count"),
    ]
