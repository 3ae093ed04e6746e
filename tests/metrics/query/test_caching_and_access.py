"""Caching (MISS/HIT, key normalization, ETag/304, Redis down), org isolation and RBAC."""

import orjson
import pytest

from tests.metrics.query.conftest import DAY, ingest, span

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics"
PARAMS = {
    "metrics": "request_count,total_cost",
    "interval": "1day",
    "start_time": "2026-11-20T00:00:00Z",
    "end_time": "2026-11-21T00:00:00Z",
}


def test_miss_then_hit_with_cache_headers(reader, known_spans, settings):
    first = reader.get(URL, PARAMS)
    second = reader.get(URL, PARAMS)
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert first["Cache-Control"] == f"private, max-age={settings.CACHE_DEFAULT_TTL}"
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]


def test_equivalent_requests_share_one_entry(reader, known_spans):
    reader.get(URL, PARAMS)
    # parameter order, an explicit default and an equivalent offset spelling
    same = {
        "interval": "1day",
        "metrics": "request_count,total_cost",
        "timezone": "UTC",
        "start_time": "2026-11-20T01:00:00+01:00",
        "end_time": "2026-11-21T00:00:00",
        "fill": "none",
    }
    assert reader.get(URL, same)["X-Cache"] == "HIT"
    assert reader.get(URL, {**PARAMS, "metrics": "total_cost,request_count"})["X-Cache"] == "MISS"


def test_if_none_match_gives_304(reader, known_spans):
    etag = reader.get(URL, PARAMS)["ETag"]
    response = reader.get(URL, PARAMS, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert reader.get(URL, PARAMS, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_csv_and_json_have_different_etags(reader, known_spans):
    assert reader.get(URL, PARAMS)["ETag"] != reader.get(URL, {**PARAMS, "format": "csv"})["ETag"]


def test_a_csv_answer_from_the_cache_is_the_one_computed(reader, known_spans, settings):
    """The entry keeps the answer's objects apart from its JSON; a CSV hit must render them as a miss does."""
    settings.CACHE_DEFAULT_TTL = 0
    uncached = reader.get(URL, {**PARAMS, "format": "csv"})
    settings.CACHE_DEFAULT_TTL = 300
    assert reader.get(URL, PARAMS)["X-Cache"] == "MISS"  # stored by a JSON request
    from_cache = reader.get(URL, {**PARAMS, "format": "csv"})
    assert (uncached["X-Cache"], from_cache["X-Cache"]) == ("MISS", "HIT")
    assert from_cache.content == uncached.content
    assert b"request_count" in from_cache.content and len(from_cache.content.splitlines()) > 1


def test_a_cached_answer_stays_until_its_ttl_then_new_spans_show(reader, org, known_spans, settings):
    before = reader.get(URL, PARAMS).json()["data"][0]["request_count"]
    ingest(org, [span(DAY)])
    assert reader.get(URL, PARAMS).json()["data"][0]["request_count"] == before  # cached
    settings.CACHE_DEFAULT_TTL = 0
    assert reader.get(URL, PARAMS).json()["data"][0]["request_count"] == before + 1


def test_redis_down_still_answers(reader, known_spans, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    for url in (URL, "/api/v1/metrics/summary"):
        response = reader.get(url, PARAMS if url == URL else {})
        assert response.status_code == 200
        assert response["X-Cache"] == "MISS"


@pytest.mark.redis
def test_the_cache_lives_in_redis_across_processes(reader, known_spans, settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "test-metrics-cache",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    from django.core.cache import cache

    cache.delete_pattern("*")
    assert reader.get(URL, PARAMS)["X-Cache"] == "MISS"
    assert reader.get(URL, PARAMS)["X-Cache"] == "HIT"
    assert any(key.startswith("metrics:series:") for key in cache.keys("*"))


# ---- org isolation --------------------------------------------------------------------------------


def test_no_query_of_one_org_sees_the_other(org, other_org, make_member, client_for):
    ingest(org, [span(DAY, model="ours", user_id="u-ours") for _ in range(3)])
    ingest(other_org, [span(DAY, model="theirs", user_id="u-theirs") for _ in range(5)])
    ours, theirs = client_for(make_member("developer", org)), client_for(make_member("developer", other_org))
    for client, model, count in ((ours, "ours", 3), (theirs, "theirs", 5)):
        series = client.get(URL, {**PARAMS, "group_by": "model,user_id"}).json()["data"]
        assert [(r["model"], r["request_count"]) for r in series] == [(model, count)]
        query = client.post(
            "/api/v1/metrics/query",
            data=orjson.dumps(
                {
                    "metrics": [{"metric": "request_count"}],
                    "start_time": PARAMS["start_time"],
                    "end_time": PARAMS["end_time"],
                    "interval": None,
                    "filters": [{"dimension": "model", "operator": "in", "value": ["ours", "theirs"]}],
                }
            ),
            content_type="application/json",
        ).json()["data"]
        assert query == [{"request_count": count}]
        summary = client.get(
            "/api/v1/metrics/summary", {"start_time": PARAMS["start_time"], "end_time": PARAMS["end_time"]}
        )
        assert summary.json()["current_period"]["total_requests"] == count


def test_identical_queries_of_two_orgs_never_share_a_cache_entry(org, other_org, make_member, client_for):
    ingest(org, [span(DAY)])
    ingest(other_org, [span(DAY), span(DAY)])
    ours, theirs = client_for(make_member("viewer", org)), client_for(make_member("viewer", other_org))
    assert ours.get(URL, PARAMS).json()["data"][0]["request_count"] == 1
    second = theirs.get(URL, PARAMS)
    assert second["X-Cache"] == "MISS"
    assert second.json()["data"][0]["request_count"] == 2


# ---- RBAC ---------------------------------------------------------------------------------------

QUERY_BODY = orjson.dumps(
    {"metrics": [{"metric": "request_count"}], "start_time": PARAMS["start_time"], "end_time": PARAMS["end_time"]}
)


@pytest.mark.parametrize(
    ("role", "can_read", "can_query"),
    [("admin", True, True), ("developer", True, True), ("viewer", True, False), ("billing", True, False)],
)
def test_roles(org, make_member, client_for, role, can_read, can_query):
    client = client_for(make_member(role, org))
    for url in (URL, "/api/v1/metrics/summary", "/api/v1/metrics/schema"):
        response = client.get(url, PARAMS if url == URL else {})
        assert response.status_code == (200 if can_read else 403), url
    response = client.post("/api/v1/metrics/query", data=QUERY_BODY, content_type="application/json")
    assert response.status_code == (200 if can_query else 403)


@pytest.mark.parametrize(
    ("scopes", "read", "query"),
    [(["metrics:read"], 200, 403), (["metrics:query"], 403, 200), (["spans:write"], 403, 403)],
)
def test_api_key_scopes(api_key_client, scopes, read, query):
    client = api_key_client(scopes)
    assert client.get(URL, PARAMS).status_code == read
    assert client.post("/api/v1/metrics/query", data=QUERY_BODY, content_type="application/json").status_code == query


def test_no_credentials(db):
    from rest_framework.test import APIClient

    assert APIClient().get(URL, PARAMS).status_code == 401
