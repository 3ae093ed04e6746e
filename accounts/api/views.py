"""Auth and API-key endpoints. Each view: parse, one call, serialize."""

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.permissions import ANY_MEMBER, principal_of
from accounts.principal import ApiKeyCaller
from accounts.scopes import API_KEYS_MANAGE
from accounts.tokens import ORG_ID_CLAIM, tokens_for, tokens_for_membership
from observatory import errors
from observatory.openapi import ERROR_RESPONSES

_LOGIN_STATUS = {
    "credentials": (status.HTTP_401_UNAUTHORIZED, errors.AUTHENTICATION_FAILED),
    "no_membership": (status.HTTP_403_FORBIDDEN, errors.INSUFFICIENT_PERMISSIONS),
    "choose_organization": (status.HTTP_400_BAD_REQUEST, errors.VALIDATION_ERROR),
}


class TokenObtainView(APIView):
    """Log in with a password and get JWTs for one organization."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Obtain access and refresh tokens",
        request=s.TokenObtainInput,
        responses={200: s.TokenPairOutput, **ERROR_RESPONSES},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.TokenObtainInput, request.data)
        try:
            membership = services.login_membership(
                username=data["username"], password=data["password"], organization_slug=data.get("organization")
            )
        except services.LoginError as exc:
            status_code, code = _LOGIN_STATUS[exc.kind]
            details = [{"field": "organization", "message": slug} for slug in exc.organizations]
            raise errors.ApiError(status_code=status_code, code=code, message=exc.message, details=details) from exc
        return Response(s.TokenPairOutput(tokens_for_membership(membership)).data)


class TokenRefreshView(APIView):
    """Exchange a refresh token for a new access token, if the membership still stands."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Refresh an access token",
        request=s.TokenRefreshInput,
        responses={200: s.TokenPairOutput, **ERROR_RESPONSES},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.TokenRefreshInput, request.data)
        try:
            refresh = RefreshToken(data["refresh"])
        except TokenError as exc:
            raise _invalid_token() from exc
        user_id, organization_id = refresh.get("user_id"), refresh.get(ORG_ID_CLAIM)
        if not isinstance(organization_id, int) or user_id is None:
            raise _invalid_token()
        membership = selectors.active_membership(user_id=int(user_id), organization_id=organization_id)
        if membership is None:
            raise _invalid_token()
        return Response(s.TokenPairOutput(tokens_for(membership)).data)


class MeView(APIView):
    """Who the caller is, in which organization, with which permissions."""

    required_permissions = {"GET": ANY_MEMBER}

    @extend_schema(tags=["auth"], summary="The current caller", responses={200: s.MeOutput, **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        is_user = principal.kind == "user"
        organizations = (
            [m.organization.slug for m in selectors.memberships_of_user(user_id=principal.subject_id)]
            if is_user
            else []
        )
        caller = request.user
        payload = {
            "kind": principal.kind,
            "username": caller.get_username() if is_user else None,
            "api_key_name": caller.name if isinstance(caller, ApiKeyCaller) else None,
            "organization": selectors.organization_by_slug(slug=principal.organization_slug),
            "role": principal.role,
            "permissions": sorted(principal.permissions),
            "organizations": organizations,
        }
        return Response(s.MeOutput(payload).data)


class ApiKeyListCreateView(APIView):
    """The organization's API keys (admins only)."""

    required_permissions = {"GET": API_KEYS_MANAGE, "POST": API_KEYS_MANAGE}

    @extend_schema(
        tags=["api-keys"], summary="List API keys", responses={200: s.ApiKeyOutput(many=True), **ERROR_RESPONSES}
    )
    def get(self, request: Request) -> Response:
        keys = selectors.api_keys_of_organization(principal=principal_of(request))
        return Response(s.ApiKeyOutput(keys, many=True).data)

    @extend_schema(
        tags=["api-keys"],
        summary="Create an API key (the secret is returned once)",
        request=s.ApiKeyCreateInput,
        responses={201: s.ApiKeyCreatedOutput, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.ApiKeyCreateInput, request.data)
        principal = principal_of(request)
        organization = selectors.organization_by_slug(slug=principal.organization_slug)
        if organization is None:  # deleted since the credentials were checked
            raise errors.ApiError(status_code=404, code=errors.NOT_FOUND, message=errors.MSG_NOT_FOUND)
        creator = request.user if isinstance(request.user, User) else None
        issued = services.api_key_issue(
            organization=organization, name=data["name"], scopes=list(data["scopes"]), created_by=creator
        )
        body = s.ApiKeyOutput(issued.api_key).data | {"key": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeView(APIView):
    """Revoke one of the organization's keys; it stops working on the next request."""

    required_permissions = {"DELETE": API_KEYS_MANAGE}

    @extend_schema(
        tags=["api-keys"],
        summary="Revoke an API key",
        responses={204: OpenApiResponse(description="Revoked."), **ERROR_RESPONSES},
    )
    def delete(self, request: Request, key_id: int) -> Response:
        api_key = selectors.api_keys_of_organization(principal=principal_of(request)).filter(pk=key_id).first()
        if api_key is None:
            raise errors.ApiError(status_code=404, code=errors.NOT_FOUND, message=errors.MSG_NOT_FOUND)
        services.api_key_revoke(api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _validated(serializer_class: type[Any], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _invalid_token() -> errors.ApiError:
    return errors.ApiError(status_code=401, code=errors.INVALID_TOKEN, message=errors.MSG_INVALID_TOKEN)
