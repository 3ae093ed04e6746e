from django.urls import path

from metrics.api import ingest

# Mounted under /api/v1/ (JSON API) ...
api_urlpatterns = [
    path("spans", ingest.SpanBatchView.as_view(), name="spans-ingest"),
]
# ... and at the root, where OTLP exporters expect it (…:4318/v1/traces).
otlp_urlpatterns = [
    path("v1/traces", ingest.OtlpTracesView.as_view(), name="otlp-traces"),
]
