"""VACUUM (ANALYZE) llm_traces after 0021 rewrote it, so raw breakdowns stay index-only scans.

Rewriting a table (0021 added a stored column) leaves every page of it unmarked in the
visibility map, so an index-only scan fetches each row from the table again to check it is
visible: 7 days of the 10M benchmark, its 700,000 spans by user (bench S6), then cost 312 ms
with a heap fetch per row. Spans are only ever inserted, so autovacuum would not come back to
a past day's partition to mark it again. VACUUM cannot run inside a transaction, hence a
migration of its own, not atomic; undoing it has nothing to undo.
"""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("metrics", "0021_span_cost_as_scaled_integer")]
    operations = [migrations.RunSQL(sql="VACUUM (ANALYZE) llm_traces", reverse_sql=migrations.RunSQL.noop)]
