"""Identity numbers as bigint, so an organization can never run out of them (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0018_chunked_identity_bitmaps")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0019_identity_numbers_bigint.sql").read_text(),
            reverse_sql=(SQL / "0019_identity_numbers_bigint_reverse.sql").read_text(),
        )
    ]
