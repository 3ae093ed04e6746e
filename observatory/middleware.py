"""Cross-cutting HTTP concerns: request ids, rate-limit headers, the error envelope outside DRF."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from observatory import errors
from observatory.request_context import request_id_from_header, set_request_id

# Paths whose every answer, including Django's own 404/405/500, uses the JSON envelope.
API_PATH_PREFIXES = ("/api/", "/v1/", "/health")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PATH_PREFIXES)


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID if sane), logs it, returns it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            set_request_id(None)
        response["X-Request-ID"] = request_id
        return response


class RateLimitHeadersMiddleware:
    """Copies the rate-limit state recorded by the throttle onto the response headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state = getattr(request, "rate_limit_state", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


class ApiErrorMiddleware:
    """Puts Django's own failures on API paths (404, 405, uncaught errors) into the envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or _is_json(response):
            return response
        if response.status_code == 404:
            return errors.error_response(404, errors.NOT_FOUND, errors.MSG_NOT_FOUND)
        if response.status_code == 405:
            message = errors.MSG_METHOD_NOT_ALLOWED.format(method=request.method)
            fresh = errors.error_response(405, errors.METHOD_NOT_ALLOWED, message)
            if response.has_header("Allow"):
                fresh["Allow"] = response["Allow"]
            return fresh
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        code, message, status_code, headers = errors.unexpected_exception_envelope(exception)
        return errors.error_response(status_code, code, message, headers=headers)


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return "json" in content_type or "protobuf" in content_type or getattr(response, "streaming", False)
