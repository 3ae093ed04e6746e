"""Unmanaged models over the rollup tables created by migration 0003.

The fields are generated from `metrics.rollups.measures`, the same declaration that drives
the SQL that maintains the tables, so the three cannot drift apart (a test compares them
with the live table definitions too).
"""

# Field is generic only in the stubs: the annotations below must not be evaluated at runtime.
from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models

from metrics.rollups.measures import MEASURES, Measure


def _measure_fields(measure: Measure) -> dict[str, models.Field[Any, Any]]:
    def number() -> models.Field[Any, Any]:
        if measure.numeric:
            return models.DecimalField(max_digits=38, decimal_places=10, null=True)
        return models.BigIntegerField(null=True)

    fields: dict[str, models.Field[Any, Any]] = {
        f"{measure.name}_count": models.BigIntegerField(),
        f"{measure.name}_sum": models.DecimalField(max_digits=38, decimal_places=10)
        if measure.numeric
        else models.BigIntegerField(),
        f"{measure.name}_min": number(),
        f"{measure.name}_max": number(),
    }
    if measure.kind == "latency":
        fields[f"{measure.name}_sumsq"] = models.DecimalField(max_digits=38, decimal_places=10)
        fields[f"{measure.name}_sketch_keys"] = ArrayField(models.IntegerField())
        fields[f"{measure.name}_sketch_counts"] = ArrayField(models.BigIntegerField())
    return fields


def _rollup_model(name: str, table: str, doc: str) -> type[models.Model]:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": doc,
        "pk": models.CompositePrimaryKey("org_id", "bucket", "provider", "model", "environment", "status_code"),
        "org_id": models.BigIntegerField(),
        "bucket": models.DateTimeField(),
        "provider": models.TextField(),
        "model": models.TextField(),
        "environment": models.TextField(),
        "status_code": models.CharField(max_length=5),
        "request_count": models.BigIntegerField(),
        "error_count": models.BigIntegerField(),
        "Meta": type("Meta", (), {"managed": False, "db_table": table}),
    }
    for measure in MEASURES:
        attrs.update(_measure_fields(measure))
    return type(name, (models.Model,), attrs)


MetricsRollup1Min = _rollup_model("MetricsRollup1Min", "llm_metrics_1min", "Per-minute rollup (kept 37 days).")
MetricsRollup1Hour = _rollup_model("MetricsRollup1Hour", "llm_metrics_1hour", "Per-hour rollup (kept 210 days).")
MetricsRollup1Day = _rollup_model("MetricsRollup1Day", "llm_metrics_1day", "Per-UTC-day rollup (kept 1095 days).")

ROLLUP_MODELS = {"1min": MetricsRollup1Min, "1hour": MetricsRollup1Hour, "1day": MetricsRollup1Day}


def _activity_model(name: str, table: str, identity: str, doc: str) -> type[models.Model]:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": doc,
        "pk": models.CompositePrimaryKey(
            "org_id", "bucket", identity, "provider", "model", "environment", "status_code"
        ),
        "org_id": models.BigIntegerField(),
        "bucket": models.DateTimeField(),
        identity: models.TextField(),
        "provider": models.TextField(),
        "model": models.TextField(),
        "environment": models.TextField(),
        "status_code": models.CharField(max_length=5),
        "Meta": type("Meta", (), {"managed": False, "db_table": table}),
        "__str__": lambda self: f"{getattr(self, identity)} on {self.bucket:%Y-%m-%d}",
    }
    return type(name, (models.Model,), attrs)


UserActivity1Day = _activity_model(
    "UserActivity1Day", "llm_users_1day", "user_id", "Each user seen per UTC day and rollup key (exact unique users)."
)
SessionActivity1Day = _activity_model(
    "SessionActivity1Day",
    "llm_sessions_1day",
    "session_id",
    "Each session seen per UTC day and rollup key (exact unique sessions).",
)
