from django.urls import path

from metrics.api import ingest, views

# Mounted under /api/v1/ (JSON API) ...
api_urlpatterns = [
    path("spans", ingest.SpanBatchView.as_view(), name="spans-ingest"),
    path("metrics", views.MetricsSeriesView.as_view(), name="metrics-series"),
    path("metrics/summary", views.MetricsSummaryView.as_view(), name="metrics-summary"),
    path("metrics/query", views.MetricsQueryView.as_view(), name="metrics-query"),
    path("metrics/schema", views.MetricsSchemaView.as_view(), name="metrics-schema"),
]
# ... and at the root, where OTLP exporters expect it (…:4318/v1/traces).
otlp_urlpatterns = [
    path("v1/traces", ingest.OtlpTracesView.as_view(), name="otlp-traces"),
]
