"""Shared OpenAPI pieces: the error envelope and the standard error responses."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(help_text="Machine-readable code, e.g. VALIDATION_ERROR."),
                "message": serializers.CharField(),
                "details": serializers.ListField(
                    child=inline_serializer(
                        name="ErrorDetail",
                        fields={"field": serializers.CharField(), "message": serializers.CharField()},
                    )
                ),
            },
        ),
        "meta": inline_serializer(
            name="ErrorMeta",
            fields={"timestamp": serializers.DateTimeField(), "request_id": serializers.CharField()},
        ),
    },
)

_EXAMPLE = OpenApiExample(
    "Validation error",
    value={
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "name: This field is required.",
            "details": [{"field": "name", "message": "This field is required."}],
        },
        "meta": {"timestamp": "2026-11-26T10:00:00Z", "request_id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0"},
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorEnvelope, description=description, examples=[_EXAMPLE])


ERROR_RESPONSES = {
    400: _error("Invalid request (VALIDATION_ERROR); `details` names each bad field."),
    401: _error("MISSING_AUTHORIZATION, INVALID_TOKEN or AUTHENTICATION_FAILED."),
    403: _error("INSUFFICIENT_PERMISSIONS."),
    429: _error("RATE_LIMITED; see Retry-After and the X-RateLimit-* headers."),
    503: _error("SERVICE_UNAVAILABLE: the database is down; retry after Retry-After seconds."),
}
