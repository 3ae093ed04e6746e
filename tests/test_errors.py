"""The one error envelope on every failure, and request ids on every response."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from observatory import errors
from observatory.request_context import RequestIdFilter, set_request_id

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "meta"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    assert body["meta"]["request_id"] == response["X-Request-ID"]
    assert body["meta"]["timestamp"].endswith("Z")
    return body


def test_400_validation(db):
    response = APIClient().post("/api/v1/auth/token", {}, format="json")
    body = assert_envelope(response, 400, errors.VALIDATION_ERROR)
    assert {d["field"] for d in body["error"]["details"]} == {"username", "password"}


def test_400_malformed_json(db):
    response = APIClient().post("/api/v1/auth/token", data="{not json", content_type="application/json")
    body = assert_envelope(response, 400, errors.VALIDATION_ERROR)
    assert body["error"]["message"] == errors.MSG_MALFORMED_JSON


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"username": NaN}', b'{"username": "\xff"}'],
    ids=["nested-100000-deep", "nan", "not-utf8"],
)
def test_400_for_json_no_parser_should_take(db, body):
    # A body nested a thousand levels deep made the standard library's parser raise RecursionError (a 500).
    response = APIClient().post("/api/v1/auth/token", data=body, content_type="application/json")
    body = assert_envelope(response, 400, errors.VALIDATION_ERROR)
    assert body["error"]["message"] == errors.MSG_MALFORMED_JSON


def test_401_missing_authorization(db):
    assert_envelope(APIClient().get("/api/v1/auth/me"), 401, errors.MISSING_AUTHORIZATION)


def test_403_insufficient_permissions(org, make_member, client_for):
    response = client_for(make_member("viewer", org)).get("/api/v1/api-keys")
    assert_envelope(response, 403, errors.INSUFFICIENT_PERMISSIONS)


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/metrics", "/v1/nope", "/health/nope"])
def test_404_on_unknown_paths(db, path):
    assert_envelope(APIClient().get(path), 404, errors.NOT_FOUND)


def test_405_from_a_drf_view(db):
    response = APIClient().get("/api/v1/auth/token")
    assert_envelope(response, 405, errors.METHOD_NOT_ALLOWED)


def test_405_from_a_plain_django_view(db):
    response = APIClient().post("/health")
    assert_envelope(response, 405, errors.METHOD_NOT_ALLOWED)
    assert response["Allow"] == "GET"


def test_429_rate_limited(org, make_member, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "viewer": 1}
    client = client_for(make_member("viewer", org))
    client.get("/api/v1/auth/me")
    response = client.get("/api/v1/auth/me")
    assert_envelope(response, 429, errors.RATE_LIMITED)
    assert int(response["Retry-After"]) >= 1


def test_500_from_a_drf_view_hides_the_internals(db):
    response = APIClient().get("/api/v1/fail")
    body = assert_envelope(response, 500, errors.INTERNAL_ERROR)
    assert "SELECT" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["error"]["message"] == errors.MSG_INTERNAL_ERROR


def test_500_from_a_plain_django_view_is_also_an_envelope(db):
    response = APIClient().get("/api/v1/fail-plain")
    assert_envelope(response, 500, errors.INTERNAL_ERROR)
    assert "boom" not in response.content.decode()


def test_a_well_formed_request_id_is_echoed(db):
    response = APIClient().get("/health", HTTP_X_REQUEST_ID="trace-abc.123")
    assert response["X-Request-ID"] == "trace-abc.123"


def test_a_hostile_request_id_is_replaced(db):
    response = APIClient().get("/health", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert response["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(response["X-Request-ID"]) == 32


def test_log_lines_are_json_carrying_the_request_id(settings):
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter(**{k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"})
    record = logging.LogRecord("observatory", logging.INFO, __file__, 1, "ingested %d spans", (3,), None)
    set_request_id("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        set_request_id(None)
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "req-42"
    assert line["message"] == "ingested 3 spans"
    assert line["level"] == "INFO"
