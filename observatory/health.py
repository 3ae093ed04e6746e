"""Liveness, readiness and the guarded Prometheus export."""

import hmac
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Gauge

from observatory import errors

logger = logging.getLogger(__name__)

_READY_PROBE_KEY = "health:ready-probe"
ROLLUP_QUEUE = Gauge(
    "observatory_rollup_queue_spans",
    "Stored spans not yet folded into the rollups (read at scrape time; a growing value means folds fail).",
)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers; nothing else is checked."""
    return JsonResponse({"status": "ok"})


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            answered: bool = cursor.fetchone() == (1,)
            return answered
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database check failed", exc_info=True)
        connection.close_if_unusable_or_obsolete()
        return False


def cache_ok() -> bool:
    """A real round trip through the configured cache (Redis or local memory)."""
    try:
        cache.set(_READY_PROBE_KEY, "1", timeout=5)
        answered: bool = cache.get(_READY_PROBE_KEY) == "1"
        return answered
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: cache check failed", exc_info=True)
        return False


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache both answer, else 503 naming the failing one."""
    checks = {"database": "ok" if database_ok() else "unavailable", "cache": "ok" if cache_ok() else "unavailable"}
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    response = JsonResponse(body, status=200 if healthy else 503)
    if not healthy:
        response["Retry-After"] = str(errors.RETRY_AFTER_UNAVAILABLE_SECONDS)
    return response


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint; needs `Authorization: Bearer $PROMETHEUS_TOKEN` when set."""
    token = settings.PROMETHEUS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return errors.error_response(401, errors.INVALID_TOKEN, errors.MSG_INVALID_TOKEN)
    from metrics.rollups.fold import queued_spans

    try:
        ROLLUP_QUEUE.set(queued_spans())
    except Exception:  # noqa: BLE001 - the other metrics are still worth a scrape
        logger.warning("prometheus: could not count the rollup queue", exc_info=True)
    response: HttpResponse = ExportToDjangoView(request)
    return response
