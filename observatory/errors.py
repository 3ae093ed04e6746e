"""The one error envelope of SPEC §8, and the DRF exception handler that produces it."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from observatory.request_context import current_request_id

logger = logging.getLogger(__name__)

# Error codes: the public vocabulary of failures.
MISSING_AUTHORIZATION = "MISSING_AUTHORIZATION"
INVALID_TOKEN = "INVALID_TOKEN"
AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
VALIDATION_ERROR = "VALIDATION_ERROR"
RATE_LIMITED = "RATE_LIMITED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL_ERROR = "INTERNAL_ERROR"

# Messages the tests import, so the wording lives here only.
MSG_MISSING_AUTHORIZATION = "Authentication credentials were not provided."
MSG_INVALID_TOKEN = "The token is invalid, expired or no longer valid for this organization."
MSG_NOT_FOUND = "The requested resource was not found."
MSG_METHOD_NOT_ALLOWED = "Method {method} is not allowed on this endpoint."
MSG_MALFORMED_JSON = "The request body is not valid JSON."
MSG_PAYLOAD_TOO_LARGE = "The request body is larger than the limit of {limit} bytes."
MSG_SERVICE_UNAVAILABLE = "The database is unavailable; retry shortly."
MSG_INTERNAL_ERROR = "An internal error occurred. Quote the request id when reporting it."
MSG_RATE_LIMITED = "Rate limit exceeded; retry after {seconds} seconds."

RETRY_AFTER_UNAVAILABLE_SECONDS = 5


class ApiError(exceptions.APIException):
    """An API failure with an explicit envelope code, raised by services and views."""

    def __init__(
        self,
        *,
        status_code: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The envelope: `{"error": {code, message, details}, "meta": {timestamp, request_id}}`."""
    return {
        "error": {"code": code, "message": message, "details": details or []},
        "meta": {
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request_id": current_request_id(),
        },
    }


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """A plain Django response carrying the envelope (for code outside DRF)."""
    response = JsonResponse(error_body(code, message, details), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def flatten_validation_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict/list → `[{"field": "a.b", "message": "..."}]`."""
    if isinstance(detail, dict):
        items: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            field = f"{prefix}.{name}" if prefix and name else (prefix or name)
            items.extend(flatten_validation_errors(value, field))
        return items
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix, "message": str(item)} for item in detail]
        items = []
        for index, value in enumerate(detail):
            items.extend(flatten_validation_errors(value, f"{prefix}[{index}]" if prefix else f"[{index}]"))
        return items
    return [{"field": prefix, "message": str(detail)}]


def validation_message(details: list[dict[str, str]]) -> str:
    if not details:
        return "The request is invalid."
    first = details[0]
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}{first['message']}{more}"


def _token_message(exc: exceptions.APIException) -> str:
    return str(exc.detail) if isinstance(exc.detail, str) else MSG_INVALID_TOKEN


def _throttled_message(exc: exceptions.APIException) -> str:
    wait = getattr(exc, "wait", None)
    return MSG_RATE_LIMITED.format(seconds=int(wait or 1))


# DRF exception class → (envelope code, message builder); the first matching class wins.
_DRF_CODES: list[tuple[type[exceptions.APIException], str, Callable[[exceptions.APIException], str]]] = [
    (exceptions.ParseError, VALIDATION_ERROR, lambda exc: MSG_MALFORMED_JSON),
    (exceptions.NotAuthenticated, MISSING_AUTHORIZATION, lambda exc: MSG_MISSING_AUTHORIZATION),
    (InvalidToken, INVALID_TOKEN, _token_message),
    (exceptions.AuthenticationFailed, INVALID_TOKEN, _token_message),
    (exceptions.PermissionDenied, INSUFFICIENT_PERMISSIONS, lambda exc: str(exc.detail)),
    (exceptions.NotFound, NOT_FOUND, lambda exc: MSG_NOT_FOUND),
    (exceptions.MethodNotAllowed, METHOD_NOT_ALLOWED, lambda exc: str(exc.detail)),
    (exceptions.NotAcceptable, NOT_ACCEPTABLE, lambda exc: str(exc.detail)),
    (exceptions.UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE, lambda exc: str(exc.detail)),
    (exceptions.Throttled, RATE_LIMITED, _throttled_message),
]


def _drf_envelope(exc: exceptions.APIException) -> tuple[str, str, list[dict[str, str]]]:
    """Code, message and details for a DRF exception."""
    if isinstance(exc, ApiError):
        return exc.error_code, exc.message, exc.details
    if isinstance(exc, exceptions.ValidationError):
        details = flatten_validation_errors(exc.detail)
        return VALIDATION_ERROR, validation_message(details), details
    for exception_class, code, message in _DRF_CODES:
        if isinstance(exc, exception_class):
            return code, message(exc), []
    return VALIDATION_ERROR, str(exc.detail), []


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every failure of an API view leaves in the envelope."""
    if isinstance(exc, TokenError):
        exc = InvalidToken(MSG_INVALID_TOKEN)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        code, message, details = _drf_envelope(exc)
        headers: dict[str, str] = {}
        if isinstance(exc, ApiError):
            headers.update(exc.headers)
        if isinstance(exc, exceptions.Throttled):
            # Throttled.wait is set by DRF's __init__ but missing from its stubs.
            headers["Retry-After"] = str(int(exc.wait or 1))  # type: ignore[attr-defined]
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            request = context.get("request")
            header = _authenticate_header(request)
            if header:
                headers["WWW-Authenticate"] = header
        status_code = exc.status_code
        if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            status_code = status.HTTP_401_UNAUTHORIZED
        return Response(error_body(code, message, details), status=status_code, headers=headers)

    return _unexpected_exception_response(exc)


def _authenticate_header(request: Any) -> str | None:
    authenticators = getattr(request, "authenticators", None)
    if authenticators:
        header: str | None = authenticators[0].authenticate_header(request)
        return header
    return None


def _unexpected_exception_response(exc: Exception) -> Response:
    code, message, status_code, headers = unexpected_exception_envelope(exc)
    return Response(error_body(code, message), status=status_code, headers=headers)


def unexpected_exception_envelope(exc: Exception) -> tuple[str, str, int, dict[str, str]]:
    """Code, message, status and headers for an exception nothing else handled.

    A database that cannot be reached is a retryable 503, never a 500: clients (and OTLP
    exporters) retry a 503 and would silently drop data after a 500.
    """
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return PAYLOAD_TOO_LARGE, MSG_PAYLOAD_TOO_LARGE.format(limit=limit), 413, {}
    if isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError) or _is_connection_error(exc):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)}
        return SERVICE_UNAVAILABLE, MSG_SERVICE_UNAVAILABLE, 503, headers
    logger.exception("unhandled error", exc_info=exc)
    return INTERNAL_ERROR, MSG_INTERNAL_ERROR, 500, {}


def _is_connection_error(exc: Exception) -> bool:
    return isinstance(exc, DatabaseError | psycopg.Error) and "connection" in str(exc).lower()


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler404: unknown URLs answer in the envelope."""
    return error_response(404, NOT_FOUND, MSG_NOT_FOUND)


def server_error_view(request: HttpRequest) -> JsonResponse:
    """handler500: the last resort, still in the envelope and without internals."""
    return error_response(500, INTERNAL_ERROR, MSG_INTERNAL_ERROR)
