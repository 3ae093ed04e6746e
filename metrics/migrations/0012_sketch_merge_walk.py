"""sketch_merge as one walk over both sorted sketches (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0011_model_environment_rollups")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0012_sketch_merge_walk.sql").read_text(),
            reverse_sql=(SQL / "0012_sketch_merge_walk_reverse.sql").read_text(),
        )
    ]
