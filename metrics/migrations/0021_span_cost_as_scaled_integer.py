"""Each span's total cost also as an exact bigint (× 10^10), carried by the primary key (raw SQL, commented)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("metrics", "0020_identifiers_compare_bytewise")]
    operations = [
        migrations.RunSQL(
            sql=(SQL / "0021_span_cost_as_scaled_integer.sql").read_text(),
            reverse_sql=(SQL / "0021_span_cost_as_scaled_integer_reverse.sql").read_text(),
        )
    ]
