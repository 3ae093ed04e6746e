"""One row per LLM call: the `llm_traces` table, range-partitioned by day on `ts`.

The table and its partitions are created by raw SQL (migration 0002): Django does not
manage partitioned tables. Token detail columns (cache read/write, reasoning) are *parts*
of prompt/completion tokens as OpenTelemetry reports them, never added on top.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models

STATUS_OK = "OK"
STATUS_ERROR = "ERROR"
STATUS_UNSET = "UNSET"
STATUS_CODES = (STATUS_OK, STATUS_ERROR, STATUS_UNSET)


class Span(models.Model):
    """A stored span. Unique per (org, trace_id, span_id) at its start time: re-sends are no-ops."""

    pk = models.CompositePrimaryKey("org_id", "ts", "trace_id", "span_id")
    org_id = models.BigIntegerField()
    ts = models.DateTimeField(help_text="Start of the call.")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, null=True)
    span_name = models.TextField(default="")
    provider = models.TextField(default="")
    model = models.TextField(default="")
    environment = models.TextField(default="")
    status_code = models.CharField(max_length=5, default=STATUS_UNSET)
    duration_ms = models.DecimalField(max_digits=12, decimal_places=3, null=True)
    ttft_ms = models.DecimalField(max_digits=12, decimal_places=3, null=True)
    prompt_tokens = models.BigIntegerField(null=True)
    completion_tokens = models.BigIntegerField(null=True)
    total_tokens = models.BigIntegerField(null=True)
    cache_read_tokens = models.BigIntegerField(null=True)
    cache_write_tokens = models.BigIntegerField(null=True)
    reasoning_tokens = models.BigIntegerField(null=True)
    prompt_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True)
    completion_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True)
    total_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True)
    error_type = models.TextField(null=True)
    error_message = models.TextField(null=True)
    finish_reason = models.TextField(null=True)
    user_id = models.TextField(null=True)
    session_id = models.TextField(null=True)
    tags = ArrayField(models.TextField(), default=list)
    attributes = models.JSONField(default=dict)
    ingested_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "llm_traces"

    def __str__(self) -> str:
        return f"{self.trace_id}/{self.span_id}"
