"""URL map: API under /api/v1/, OTLP under /v1/, docs, health, metrics, admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from metrics.api.urls import api_urlpatterns as metrics_api_urls
from metrics.api.urls import otlp_urlpatterns
from observatory import health

handler404 = "observatory.errors.not_found_view"
handler500 = "observatory.errors.server_error_view"

urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs/", permanent=False)),
    path("health", health.live, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", health.prometheus_metrics, name="prometheus-metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include(metrics_api_urls)),
    path("", include(otlp_urlpatterns)),
    path("admin/", admin.site.urls),
]
