"""RBAC: role × permission and API-key scope × permission matrices, and instant revocation."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.scopes import PERMISSIONS
from accounts.tokens import access_for_membership
from observatory import errors

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

# Written out by hand from SPEC §3, independently of accounts.scopes.DEFAULT_ROLES.
EXPECTED_ROLE_PERMISSIONS = {
    "admin": {"metrics:read", "metrics:query", "spans:write", "api_keys:manage"},
    "developer": {"metrics:read", "metrics:query", "spans:write"},
    "viewer": {"metrics:read"},
    "billing": {"metrics:read"},
}
ROLE_CASES = [(role, code) for role in EXPECTED_ROLE_PERMISSIONS for code in PERMISSIONS]
KEY_SCOPE_CASES = [
    (("spans:write",), "spans:write", 200),
    (("spans:write",), "metrics:read", 403),
    (("metrics:read",), "metrics:read", 200),
    (("metrics:read",), "metrics:query", 403),
    (("metrics:read", "metrics:query"), "metrics:query", 200),
    (("spans:write", "metrics:read", "metrics:query"), "api_keys:manage", 403),
]


@pytest.mark.parametrize(("role", "permission"), ROLE_CASES, ids=[f"{r}-{p}" for r, p in ROLE_CASES])
def test_each_role_gets_exactly_its_permissions(org, make_member, client_for, role, permission):
    response = client_for(make_member(role, org)).get(f"/api/v1/probe/{permission}")
    expected = 200 if permission in EXPECTED_ROLE_PERMISSIONS[role] else 403
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["error"]["code"] == errors.INSUFFICIENT_PERMISSIONS
        assert permission in response.json()["error"]["message"]


@pytest.mark.parametrize(("scopes", "permission", "expected"), KEY_SCOPE_CASES)
def test_api_keys_get_exactly_their_scopes(api_key_client, scopes, permission, expected):
    response = api_key_client(list(scopes)).get(f"/api/v1/probe/{permission}")
    assert response.status_code == expected


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_api_keys_work_in_either_header(api_key_client, header):
    response = api_key_client(["metrics:read"], header=header).get("/api/v1/probe/metrics:read")
    assert response.status_code == 200


def test_removing_a_membership_blocks_the_very_next_request(org, make_member):
    # given: a viewer holding a valid access token
    member = make_member("viewer", org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_for_membership(member)}")
    assert client.get("/api/v1/probe/metrics:read").status_code == 200
    # when
    member.delete()
    # then
    response = client.get("/api/v1/probe/metrics:read")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.INVALID_TOKEN


def test_changing_the_role_acts_on_the_next_request(org, make_member, roles):
    member = make_member("viewer", org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_for_membership(member)}")
    assert client.get("/api/v1/probe/metrics:query").status_code == 403
    services.membership_set(user=member.user, organization=org, role=roles["developer"])
    assert client.get("/api/v1/probe/metrics:query").status_code == 200
    services.membership_set(user=member.user, organization=org, role=roles["viewer"])
    assert client.get("/api/v1/probe/metrics:query").status_code == 403


def test_deactivating_the_user_acts_on_the_next_request(org, make_member):
    member = make_member("admin", org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_for_membership(member)}")
    assert client.get("/api/v1/probe/metrics:read").status_code == 200
    member.user.is_active = False
    member.user.save()
    assert client.get("/api/v1/probe/metrics:read").status_code == 401


def test_editing_a_role_acts_on_the_next_request(org, make_member, roles):
    member = make_member("billing", org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_for_membership(member)}")
    roles["billing"].permissions = []
    roles["billing"].save()
    assert client.get("/api/v1/probe/metrics:read").status_code == 403


def test_a_method_the_view_does_not_map_is_refused(org, make_member, client_for):
    response = client_for(make_member("admin", org)).post("/api/v1/probe/metrics:read", {}, format="json")
    assert response.status_code in (403, 405)
    assert response.json()["error"]["code"] in (errors.INSUFFICIENT_PERMISSIONS, errors.METHOD_NOT_ALLOWED)
