"""Identity bitmaps in chunks of 32,768 numbers per bucket (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0017_rollups_uncompressed")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0018_chunked_identity_bitmaps.sql").read_text(),
            reverse_sql=(SQL / "0018_chunked_identity_bitmaps_reverse.sql").read_text(),
        )
    ]
