from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """The data (spans, rollups, prices), the ingest path and the query engine."""

    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"
