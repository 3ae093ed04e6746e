"""Every text column of the metrics tables compares byte by byte (COLLATE "C"; raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0019_identity_numbers_bigint")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0020_identifiers_compare_bytewise.sql").read_text(),
            reverse_sql=(SQL / "0020_identifiers_compare_bytewise_reverse.sql").read_text(),
        )
    ]
