"""POST /api/v1/auth/token, /token/refresh and GET /auth/me."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from observatory import errors
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token"
REFRESH_URL = "/api/v1/auth/token/refresh"
ME_URL = "/api/v1/auth/me"

pytestmark = pytest.mark.django_db


def login(username: str, password: str = PASSWORD, organization: str | None = None):
    body = {"username": username, "password": password}
    if organization:
        body["organization"] = organization
    return APIClient().post(TOKEN_URL, body, format="json")


def test_login_returns_tokens_naming_the_org_role_and_permissions(org, make_member):
    # given
    member = make_member("developer", org)
    # when
    response = login(member.user.username)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == "acme"
    assert body["role"] == "developer"
    assert body["permissions"] == ["metrics:query", "metrics:read", "spans:write"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    me_body = me.get(ME_URL).json()
    assert me_body["username"] == member.user.username
    assert me_body["organization"] == {"slug": "acme", "name": "Acme"}
    assert me_body["kind"] == "user"
    assert me_body["api_key_name"] is None


def test_login_with_a_wrong_password_is_refused(org, make_member):
    member = make_member("viewer", org)
    response = login(member.user.username, password="wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.AUTHENTICATION_FAILED
    assert response.json()["error"]["message"] == services.MSG_BAD_CREDENTIALS


def test_login_of_an_unknown_user_looks_like_a_wrong_password(db):
    response = login("nobody")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == services.MSG_BAD_CREDENTIALS


def test_login_of_an_inactive_user_is_refused(org, make_member):
    member = make_member("admin", org)
    member.user.is_active = False
    member.user.save()
    response = login(member.user.username)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.AUTHENTICATION_FAILED


def test_login_of_a_user_without_membership_is_forbidden(db):
    services.user_ensure(username="loner", password=PASSWORD)
    response = login("loner")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == services.MSG_NO_MEMBERSHIP


def test_a_user_in_several_orgs_must_choose_one(org, other_org, make_member, roles):
    # given
    member = make_member("viewer", org, username="shared-user")
    services.membership_set(user=member.user, organization=other_org, role=roles["admin"])
    # when
    unchosen = login("shared-user")
    chosen = login("shared-user", organization="globex")
    # then
    assert unchosen.status_code == 400
    assert unchosen.json()["error"]["code"] == errors.VALIDATION_ERROR
    assert [d["message"] for d in unchosen.json()["error"]["details"]] == ["acme", "globex"]
    assert chosen.status_code == 200
    assert chosen.json()["organization"] == "globex"
    assert chosen.json()["role"] == "admin"


def test_choosing_an_org_the_user_is_not_in_is_forbidden(org, other_org, make_member):
    member = make_member("viewer", org)
    response = login(member.user.username, organization="globex")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == services.MSG_NOT_A_MEMBER.format(slug="globex")


def test_login_body_is_validated(db):
    response = APIClient().post(TOKEN_URL, {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"field": "password", "message": "This field is required."}]


def test_refresh_gives_a_new_working_access_token(org, make_member):
    member = make_member("viewer", org)
    refresh = login(member.user.username).json()["refresh"]
    response = APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get(ME_URL).status_code == 200


def test_refresh_after_the_membership_was_revoked_is_refused(org, make_member):
    member = make_member("viewer", org)
    refresh = login(member.user.username).json()["refresh"]
    member.delete()
    response = APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.INVALID_TOKEN


def test_refresh_with_an_access_token_is_refused(org, make_member):
    member = make_member("viewer", org)
    access = login(member.user.username).json()["access"]
    response = APIClient().post(REFRESH_URL, {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.INVALID_TOKEN
