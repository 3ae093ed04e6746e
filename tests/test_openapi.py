"""The OpenAPI schema validates without warnings and documents the security schemes."""

import pytest
import yaml
from django.core.management import call_command
from django.test import Client


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    except SystemExit as exc:  # drf-spectacular exits non-zero on warnings
        pytest.fail(f"schema generation reported warnings or errors (exit {exc.code})")
    schema = yaml.safe_load(out.read_text())
    assert set(schema["components"]["securitySchemes"]) == {"jwtAuth", "apiKeyAuth"}
    assert "/api/v1/auth/token" in schema["paths"]
    assert "/api/v1/api-keys" in schema["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_the_docs_pages_are_served(path):
    assert Client().get(path).status_code == 200
