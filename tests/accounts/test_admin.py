"""The Django admin: organizations with members, roles from the catalog, keys shown once."""

import hashlib
import re

import pytest
from django.test import Client

from accounts import services
from accounts.models import ApiKey, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(org, roles) -> Client:
    user = services.user_ensure(username="operator", password="pw-operator", superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/organization/",
        "/admin/accounts/organization/add/",
        "/admin/accounts/role/",
        "/admin/accounts/membership/",
        "/admin/accounts/apikey/",
        "/admin/accounts/apikey/add/",
        "/admin/metrics/modelprice/",
        "/admin/metrics/modelprice/add/",
    ],
)
def test_admin_pages_render(admin_client_logged_in, path):
    assert admin_client_logged_in.get(path).status_code == 200


def test_role_permissions_are_ticked_from_the_catalog(admin_client_logged_in, roles):
    page = admin_client_logged_in.get(f"/admin/accounts/role/{roles['viewer'].pk}/change/").content.decode()
    assert 'type="checkbox" name="permissions" value="metrics:query"' in page
    response = admin_client_logged_in.post(
        f"/admin/accounts/role/{roles['viewer'].pk}/change/",
        {"name": "viewer", "description": "d", "permissions": ["metrics:read", "metrics:query"]},
    )
    assert response.status_code == 302
    assert sorted(Role.objects.get(name="viewer").permissions) == ["metrics:query", "metrics:read"]


def test_a_role_cannot_get_a_permission_outside_the_catalog(admin_client_logged_in, roles):
    response = admin_client_logged_in.post(
        f"/admin/accounts/role/{roles['viewer'].pk}/change/",
        {"name": "viewer", "description": "d", "permissions": ["everything:*"]},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert Role.objects.get(name="viewer").permissions == ["metrics:read"]


def test_adding_a_key_in_the_admin_shows_the_secret_once(admin_client_logged_in, org):
    response = admin_client_logged_in.post(
        "/admin/accounts/apikey/add/",
        {"organization": org.pk, "name": "from admin", "scopes": ["spans:write"]},
        follow=True,
    )
    page = response.content.decode()
    secret = re.search(r"(obs_[A-Za-z0-9_\-]+)", page).group(1)
    api_key = ApiKey.objects.get(name="from admin")
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.scopes == ["spans:write"]
    assert api_key.created_by is not None and api_key.created_by.username == "operator"
    again = admin_client_logged_in.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()
    assert secret not in again


def test_a_model_price_added_in_the_admin_prices_the_next_span(admin_client_logged_in, org):
    from datetime import UTC, datetime

    from metrics.ingest.pricing import price_record, price_table
    from metrics.ingest.records import SpanRecord

    response = admin_client_logged_in.post(
        "/admin/metrics/modelprice/add/",
        {
            "provider": "acme-ai",
            "model_pattern": "rocket-*",
            "input_price_per_million": "2",
            "output_price_per_million": "8",
        },
    )
    assert response.status_code == 302
    price_table.invalidate()
    span = SpanRecord(
        trace_id="a" * 32,
        span_id="b" * 16,
        ts=datetime.now(UTC),
        provider="acme-ai",
        model="rocket-1",
        prompt_tokens=500_000,
        completion_tokens=250_000,
    )
    assert price_record(org.pk, span)
    assert (span.prompt_cost, span.completion_cost) == (1, 2)
