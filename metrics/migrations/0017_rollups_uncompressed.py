"""Rollup rows keep their sketches uncompressed up to a full page (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0016_fold_clock")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0017_rollups_uncompressed.sql").read_text(),
            reverse_sql=(SQL / "0017_rollups_uncompressed_reverse.sql").read_text(),
        )
    ]
