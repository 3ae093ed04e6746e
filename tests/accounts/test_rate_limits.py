"""Per-role rate limits over the shared cache, with headers on every API response."""

import os
import subprocess
import sys
import time

import pytest

from accounts.throttling import rate_limit_consume
from observatory import errors

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/auth/me"


def test_every_api_response_carries_the_rate_limit_headers(org, make_member, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 5}
    response = client_for(make_member("viewer", org)).get(ME_URL)
    assert response["X-RateLimit-Limit"] == "5"
    assert response["X-RateLimit-Remaining"] == "4"
    assert int(response["X-RateLimit-Reset"]) > time.time()


def test_the_request_over_the_limit_is_429_with_retry_after(org, make_member, client_for, settings):
    # given: viewers may make 3 requests a window
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 3}
    client = client_for(make_member("viewer", org))
    # when
    statuses = [client.get(ME_URL).status_code for _ in range(4)]
    last = client.get(ME_URL)
    # then
    assert statuses == [200, 200, 200, 429]
    assert last.status_code == 429
    assert last.json()["error"]["code"] == errors.RATE_LIMITED
    assert 1 <= int(last["Retry-After"]) <= settings.RATE_LIMIT_WINDOW_SECONDS
    assert last["X-RateLimit-Remaining"] == "0"


def test_limits_follow_the_role(org, make_member, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 1, "admin": 3}
    viewer = client_for(make_member("viewer", org))
    admin = client_for(make_member("admin", org))
    assert [viewer.get(ME_URL).status_code for _ in range(2)] == [200, 429]
    assert [admin.get(ME_URL).status_code for _ in range(3)] == [200, 200, 200]


def test_each_caller_has_its_own_budget(org, make_member, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 1}
    first, second = client_for(make_member("viewer", org)), client_for(make_member("viewer", org))
    assert first.get(ME_URL).status_code == 200
    assert first.get(ME_URL).status_code == 429
    assert second.get(ME_URL).status_code == 200


def test_api_keys_have_their_own_limit(api_key_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_key": 2}
    client = api_key_client(["metrics:read"])
    assert [client.get(ME_URL).status_code for _ in range(3)] == [200, 200, 429]


def test_a_new_window_restores_the_budget(settings):
    first = rate_limit_consume(key="window-test", limit=1, window_seconds=60, now=120.0)
    second = rate_limit_consume(key="window-test", limit=1, window_seconds=60, now=150.0)
    third = rate_limit_consume(key="window-test", limit=1, window_seconds=60, now=181.0)
    assert (first.allowed, second.allowed, third.allowed) == (True, False, True)
    assert second.reset_at == 180


@pytest.mark.redis
def test_two_processes_share_one_budget_through_redis(org, make_member, client_for, settings, redis_url):
    # given: a viewer limited to 5 a window, and its counter key
    settings.CACHES = _redis_caches(settings, redis_url)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 5}
    # a day-long window: the other process's start-up must not straddle a window boundary
    settings.RATE_LIMIT_WINDOW_SECONDS = 86400
    member = make_member("viewer", org)
    client = client_for(member)
    assert client.get(ME_URL).status_code == 200
    # when: another process spends 4 requests of the same budget in the same cache
    code = (
        "import django; django.setup();"
        "from accounts.throttling import rate_limit_consume;"
        f"[rate_limit_consume(key='user:{member.user_id}', limit=5,"
        " window_seconds=86400) for _ in range(4)]"
    )
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "observatory.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    # then: this process sees the spent budget
    response = client.get(ME_URL)
    assert response.status_code == 429, response.json()


def _redis_caches(settings, redis_url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": settings.CACHE_KEY_PREFIX,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }


def test_a_dead_cache_lets_requests_through(org, make_member, client_for, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 1}
    client = client_for(make_member("viewer", org))
    assert [client.get(ME_URL).status_code for _ in range(3)] == [200, 200, 200]
