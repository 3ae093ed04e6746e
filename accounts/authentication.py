"""DRF authentication: API keys and membership-checked JWTs, both yielding a Principal."""

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts import selectors, services
from accounts.principal import ApiKeyCaller, Principal
from accounts.tokens import ORG_ID_CLAIM
from observatory.errors import MSG_INVALID_TOKEN

MSG_INVALID_API_KEY = "The API key is invalid or has been revoked."
WWW_AUTHENTICATE = 'Bearer realm="api"'


def _bearer_token(request: Request) -> str | None:
    header = get_authorization_header(request).split()
    if len(header) == 2 and header[0].lower() == b"bearer":
        try:
            return header[1].decode()
        except UnicodeDecodeError:
            return None
    return None


def api_key_from_request(request: Request) -> str | None:
    """The key from `x-api-key`, or from `Authorization: Bearer obs_...`."""
    header_key: str | None = request.META.get("HTTP_X_API_KEY")
    if header_key:
        return header_key.strip()
    token = _bearer_token(request)
    if token and token.startswith(services.API_KEY_PREFIX):
        return token
    return None


class ApiKeyAuthentication(BaseAuthentication):
    """Organization API keys (scopes become the principal's permissions)."""

    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:
        secret = api_key_from_request(request)
        if secret is None:
            return None
        api_key = selectors.active_api_key(secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed(MSG_INVALID_API_KEY)
        services.api_key_touch(api_key_id=api_key.id, last_used_at=api_key.last_used_at)
        principal = Principal(
            kind="api_key",
            subject_id=api_key.id,
            organization_id=api_key.organization_id,
            organization_slug=api_key.organization_slug,
            role=None,
            permissions=api_key.scopes,
            retention_days=api_key.retention_days,
        )
        return ApiKeyCaller(api_key_id=api_key.id, name=api_key.name), principal

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class MembershipJWTAuthentication(JWTAuthentication):
    """simplejwt access tokens, accepted only while the named membership still stands."""

    # simplejwt declares its validated token as `request.auth`; ours is the Principal, as for keys.
    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:  # type: ignore[override]
        raw = _bearer_token(request)
        if raw is None:
            if get_authorization_header(request):
                raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN)
            return None
        try:
            validated = self.get_validated_token(raw.encode())
        except (InvalidToken, TokenError) as exc:
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN) from exc
        user_id = validated.get("user_id")
        organization_id = validated.get(ORG_ID_CLAIM)
        if not isinstance(user_id, int | str) or not isinstance(organization_id, int):
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN)
        membership = selectors.active_membership(user_id=int(user_id), organization_id=organization_id)
        if membership is None:
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN)
        principal = Principal(
            kind="user",
            subject_id=membership.user.pk,
            organization_id=membership.organization_id,
            organization_slug=membership.organization_slug,
            role=membership.role,
            permissions=membership.permissions,
            retention_days=membership.retention_days,
        )
        return membership.user, principal

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE
