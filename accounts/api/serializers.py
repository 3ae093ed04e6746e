"""Shapes of the auth and API-key endpoints: validation of form only, no logic."""

from rest_framework import serializers

from accounts.scopes import API_KEY_SCOPES, PERMISSIONS


class TokenObtainInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    organization = serializers.SlugField(
        max_length=64, required=False, help_text="Organization slug; required when the user belongs to several."
    )


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField(help_text="Short-lived JWT; send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Longer-lived JWT for `POST /api/v1/auth/token/refresh`.")
    organization = serializers.CharField()
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=list(PERMISSIONS)))


class TokenRefreshInput(serializers.Serializer):
    refresh = serializers.CharField()


class OrganizationOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class MeOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "api_key"])
    username = serializers.CharField(allow_null=True)
    api_key_name = serializers.CharField(allow_null=True)
    organization = OrganizationOutput()
    role = serializers.CharField(allow_null=True)
    permissions = serializers.ListField(child=serializers.CharField())
    organizations = serializers.ListField(
        child=serializers.CharField(), help_text="Every organization this user belongs to (users only)."
    )


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.MultipleChoiceField(choices=list(API_KEY_SCOPES), allow_empty=False)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the key, to recognise it.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(API_KEY_SCOPES)))
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="The secret. Shown this once only; store it now.")
