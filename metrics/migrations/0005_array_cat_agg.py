"""An aggregate concatenating arrays (for sketch transport)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0004_error_index")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0005_array_cat_agg.sql").read_text(),
            reverse_sql="DROP AGGREGATE IF EXISTS array_cat_agg(anycompatiblearray);",
        )
    ]
