"""Forged, altered, expired and stale tokens are all 401 INVALID_TOKEN."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tokens import ORG_ID_CLAIM, access_for_membership
from observatory import errors

ME_URL = "/api/v1/auth/me"

pytestmark = pytest.mark.django_db


def call_me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME_URL)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.INVALID_TOKEN
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_token_is_accepted(org, make_member):
    assert call_me(access_for_membership(make_member("viewer", org))).status_code == 200


def test_a_tampered_payload_is_rejected(org, other_org, make_member):
    # given: a real token whose payload is edited to name another org
    token = access_for_membership(make_member("viewer", org))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[ORG_ID_CLAIM] = other_org.pk
    # when / then
    assert_invalid_token(call_me(f"{header}.{b64(claims)}.{signature}"))


def test_a_token_signed_with_another_key_is_rejected(org, make_member):
    member = make_member("admin", org)
    claims = dict(AccessToken.for_user(member.user).payload, **{ORG_ID_CLAIM: org.pk})
    forged = jwt.encode(claims, "not-the-server-key-but-long-enough-for-hs256", algorithm="HS256")
    assert_invalid_token(call_me(forged))


def test_an_unsigned_alg_none_token_is_rejected(org, make_member):
    member = make_member("admin", org)
    claims = dict(AccessToken.for_user(member.user).payload, **{ORG_ID_CLAIM: org.pk})
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_invalid_token(call_me(unsigned))


def test_an_expired_token_is_rejected(org, make_member):
    member = make_member("admin", org)
    token = AccessToken.for_user(member.user)
    token[ORG_ID_CLAIM] = org.pk
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert_invalid_token(call_me(str(token)))


def test_a_correctly_signed_token_for_an_org_the_user_is_not_in_is_rejected(org, other_org, make_member):
    member = make_member("admin", org)
    token = AccessToken.for_user(member.user)
    token[ORG_ID_CLAIM] = other_org.pk
    assert_invalid_token(call_me(str(token)))


def test_a_token_without_an_org_claim_is_rejected(org, make_member):
    member = make_member("admin", org)
    assert_invalid_token(call_me(str(AccessToken.for_user(member.user))))


def test_a_refresh_token_cannot_be_used_as_an_access_token(org, make_member):
    from accounts.tokens import tokens_for_membership

    refresh = tokens_for_membership(make_member("admin", org))["refresh"]
    assert_invalid_token(call_me(refresh))


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "", "ünïcode"], ids=["word", "three-dots", "empty", "unicode"])
def test_garbage_bearer_values_are_rejected(db, garbage):
    response = call_me(garbage)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {errors.INVALID_TOKEN}


def test_no_credentials_is_missing_authorization(db):
    response = APIClient().get(ME_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.MISSING_AUTHORIZATION


def test_signing_key_is_the_configured_one():
    # Guards the forged-key test above: it only proves something if the keys differ.
    assert settings.SIMPLE_JWT["SIGNING_KEY"] != "not-the-server-key-but-long-enough-for-hs256"
