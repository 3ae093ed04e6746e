"""GET/POST/DELETE /api/v1/api-keys: admins only, org-scoped, secret shown once and stored hashed."""

import hashlib
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey
from observatory import errors

URL = "/api/v1/api-keys"

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_key_and_sees_the_secret_once(org, make_member, client_for):
    # given
    membership = make_member("admin", org)
    admin = client_for(membership)
    # when
    created = admin.post(URL, {"name": "ingest", "scopes": ["spans:write"]}, format="json")
    listed = admin.get(URL)
    # then
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("obs_") and len(secret) > 40
    stored = ApiKey.objects.get(pk=created.json()["id"])
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.created_by == membership.user
    assert secret not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()] == ["ingest"]
    assert "key" not in listed.json()[0]
    assert listed.json()[0]["prefix"] == secret[:12]


def test_the_new_key_authenticates_and_records_its_use(org, make_member, client_for):
    admin = client_for(make_member("admin", org))
    secret = admin.post(URL, {"name": "reader", "scopes": ["metrics:read"]}, format="json").json()["key"]
    key_client = APIClient()
    key_client.credentials(HTTP_X_API_KEY=secret)
    me = key_client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["kind"] == "api_key"
    assert (me.json()["api_key_name"], me.json()["username"]) == ("reader", None)
    assert me.json()["permissions"] == ["metrics:read"]
    assert ApiKey.objects.get(name="reader").last_used_at is not None


def test_a_key_records_its_use_at_most_once_a_minute(org, make_member, client_for):
    admin = client_for(make_member("admin", org))
    secret = admin.post(URL, {"name": "busy", "scopes": ["metrics:read"]}, format="json").json()["key"]
    key_client = APIClient()
    key_client.credentials(HTTP_X_API_KEY=secret)
    assert key_client.get("/api/v1/auth/me").status_code == 200
    first = ApiKey.objects.get(name="busy").last_used_at
    # when: used again within the minute, then after it
    assert key_client.get("/api/v1/auth/me").status_code == 200
    again = ApiKey.objects.get(name="busy").last_used_at
    ApiKey.objects.filter(name="busy").update(last_used_at=first - timedelta(minutes=2))
    assert key_client.get("/api/v1/auth/me").status_code == 200
    later = ApiKey.objects.get(name="busy").last_used_at
    # then
    assert first is not None and again == first
    assert later > first


def test_a_revoked_key_stops_working_at_once(org, make_member, client_for):
    admin = client_for(make_member("admin", org))
    created = admin.post(URL, {"name": "temp", "scopes": ["metrics:read"]}, format="json").json()
    key_client = APIClient()
    key_client.credentials(HTTP_X_API_KEY=created["key"])
    assert key_client.get("/api/v1/auth/me").status_code == 200
    assert admin.delete(f"{URL}/{created['id']}").status_code == 204
    response = key_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.INVALID_TOKEN


def test_an_unknown_key_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="obs_not-a-real-key")
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize("role", ["developer", "viewer", "billing"])
def test_only_admins_manage_keys(org, make_member, client_for, role):
    client = client_for(make_member(role, org))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "x", "scopes": ["metrics:read"]}, format="json").status_code == 403


def test_api_keys_cannot_manage_keys(api_key_client):
    client = api_key_client(["spans:write", "metrics:read", "metrics:query"])
    assert client.get(URL).status_code == 403


def test_an_admin_never_sees_or_revokes_another_orgs_keys(org, other_org, make_member, client_for):
    other_admin = client_for(make_member("admin", other_org))
    foreign = other_admin.post(URL, {"name": "theirs", "scopes": ["metrics:read"]}, format="json").json()
    admin = client_for(make_member("admin", org))
    assert admin.get(URL).json() == []
    response = admin.delete(f"{URL}/{foreign['id']}")
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=foreign["id"]).revoked_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["api_keys:manage"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["metrics:read'; DROP TABLE accounts_apikey; --"]},
        {"scopes": ["metrics:read"]},
        {"name": "x" * 101, "scopes": ["metrics:read"]},
    ],
    ids=["manage-scope", "no-scopes", "sql-scope", "no-name", "long-name"],
)
def test_invalid_key_requests_are_400(org, make_member, client_for, body):
    response = client_for(make_member("admin", org)).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == errors.VALIDATION_ERROR
    assert response.json()["error"]["details"]
    assert ApiKey.objects.count() == 0
