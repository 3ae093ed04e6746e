"""Shared fixtures: organizations → members → tokens / API keys → API clients."""

import os
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Membership, Organization, Role
from accounts.tokens import access_for_membership
from metrics.rollups.identities import forget_known_ordinals
from metrics.rollups.measures import SPAN_TABLES

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """PBKDF2's deliberate slowness buys nothing in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with empty rate-limit counters and response caches."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache() -> None:
    try:
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")  # only our KEY_PREFIX, never the whole Redis
        else:
            cache.clear()
    except Exception:  # noqa: BLE001 - a test that breaks the cache on purpose cleans up itself
        pass


@pytest.fixture
def committed_db(transactional_db: None) -> Iterator[None]:
    """A database whose writes are really committed (live server, threads, processes).

    Django's flush empties only the tables it manages, so the SQL-defined span and rollup
    tables are emptied here.
    """
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(SPAN_TABLES)}")
    forget_known_ordinals()


@pytest.fixture
def roles(db: None) -> dict[str, Role]:
    return services.roles_ensure_defaults()


@pytest.fixture
def org(db: None) -> Organization:
    return services.organization_ensure(slug="acme", name="Acme")


@pytest.fixture
def other_org(db: None) -> Organization:
    return services.organization_ensure(slug="globex", name="Globex")


@pytest.fixture
def make_member(roles: dict[str, Role]) -> Callable[..., Membership]:
    """make_member("viewer", org) → a fresh user with that role in that org."""
    counter = iter(range(1, 10_000))

    def make(role: str, organization: Organization, username: str | None = None) -> Membership:
        name = username or f"{organization.slug}-{role}-{next(counter)}"
        user = services.user_ensure(username=name, password=PASSWORD)
        return services.membership_set(user=user, organization=organization, role=roles[role])

    return make


@pytest.fixture
def client_for() -> Callable[[Membership], APIClient]:
    """An API client holding a fresh access token for the membership."""

    def make(membership: Membership) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_for_membership(membership)}")
        return client

    return make


@pytest.fixture
def api_key_client(org: Organization) -> Callable[..., APIClient]:
    """api_key_client(["spans:write"]) → a client authenticated by a new key of `org`."""

    def make(scopes: list[str], organization: Organization | None = None, header: str = "x-api-key") -> APIClient:
        issued = services.api_key_issue(organization=organization or org, name="test key", scopes=scopes)
        client = APIClient()
        if header == "x-api-key":
            client.credentials(HTTP_X_API_KEY=issued.secret)
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
        return client

    return make


@pytest.fixture
def redis_url() -> str:
    """The real Redis of REDIS_URL; missing it fails under REQUIRE_REDIS=1 (as in CI)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but REDIS_URL is not set")
        pytest.skip("needs a real Redis: set REDIS_URL (CI does, with REQUIRE_REDIS=1)")
    return url
