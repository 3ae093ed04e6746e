"""Test-only routes: one probe view per permission code, and a view that fails on purpose."""

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scopes import PERMISSIONS


def probe_view(permission: str) -> type[APIView]:
    class Probe(APIView):
        required_permissions = {"GET": permission}

        def get(self, request: Request) -> Response:
            return Response({"ok": True, "permission": permission})

    return Probe


class FailingView(APIView):
    """Raises an unexpected error, as a bug would."""

    required_permissions = {"GET": "any-member"}
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internal detail: SELECT * FROM llm_traces")


def failing_django_view(request):
    raise ValueError("boom from a plain Django view")


urlpatterns = [
    *[path(f"api/v1/probe/{code}", probe_view(code).as_view()) for code in PERMISSIONS],
    path("api/v1/fail", FailingView.as_view()),
    path("api/v1/fail-plain", failing_django_view),
    path("", include("observatory.urls")),
]
