"""/health, /health/ready and /metrics, including with the cache or the database down."""

import json
import os
import subprocess
import sys

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def test_liveness_answers():
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_with_everything_up():
    response = Client().get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readiness_with_the_cache_down_is_503_naming_the_cache(settings):
    settings.CACHES = DEAD_REDIS
    response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable"}
    assert response["Retry-After"]


def test_api_still_answers_with_the_cache_down(settings, org, make_member, client_for):
    settings.CACHES = DEAD_REDIS
    assert client_for(make_member("viewer", org)).get("/api/v1/auth/me").status_code == 200
    assert Client().get("/health").status_code == 200


def call_with_database_down(path: str, **headers: str) -> dict:
    """A request made in a separate process whose DATABASE_URL points at a closed port."""
    code = (
        "import django, json, sys; django.setup();"
        "from django.test import Client;"
        f"r = Client().get({path!r}, **{headers!r});"
        "print(json.dumps({'status': r.status_code, 'body': r.json(), 'retry': r.get('Retry-After')}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none", "DJANGO_SETTINGS_MODULE": "observatory.settings"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_readiness_with_the_database_down_is_503_naming_the_database():
    result = call_with_database_down("/health/ready")
    assert result["status"] == 503
    assert result["body"]["checks"] == {"database": "unavailable", "cache": "ok"}


def test_an_api_request_with_the_database_down_is_503_not_500():
    result = call_with_database_down("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer obs_some-key")
    assert result["status"] == 503
    assert result["body"]["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert result["retry"] is not None


def test_prometheus_metrics_are_exported():
    Client().get("/health")
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_prometheus_metrics_need_the_token_when_one_is_set(settings):
    settings.PROMETHEUS_TOKEN = "scrape-secret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


@pytest.mark.django_db
def test_prometheus_reports_how_many_spans_wait_for_the_rollups(org):
    from metrics.ingest.validation import parse_json_span
    from metrics.rollups.fold import fold_pending
    from tests.metrics.factories import json_span, store_unfolded

    # stored and queued, not folded yet (store_columns is ingest without its fold)
    records = [parse_json_span(json_span()) for _ in range(3)]
    store_unfolded(org.pk, records)
    assert b"observatory_rollup_queue_spans 3.0" in Client().get("/metrics").content
    fold_pending()
    assert b"observatory_rollup_queue_spans 0.0" in Client().get("/metrics").content
