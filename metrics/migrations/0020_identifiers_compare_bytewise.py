"""Every text column of the metrics tables compares byte by byte (COLLATE "C"; raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"
TO_BYTEWISE = (SQL / "0020_identifiers_compare_bytewise.sql").read_text()
# Undone by the same loop back to the database's collation (the indexes are rebuilt again).
TO_DATABASE_COLLATION = TO_BYTEWISE.replace('COLLATE "C"', 'COLLATE "default"')


class Migration(migrations.Migration):
    dependencies = [("metrics", "0019_identity_numbers_bigint")]
    operations = [migrations.RunSQL(sql=TO_BYTEWISE, reverse_sql=TO_DATABASE_COLLATION)]
