"""Writes: creating organizations, members and keys; logging in. Keyword-only, typed."""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts import selectors
from accounts.models import ApiKey, Membership, Organization, Role
from accounts.scopes import API_KEY_SCOPES, DEFAULT_ROLES

API_KEY_PREFIX = "obs_"
API_KEY_DISPLAY_CHARS = 12

# Login failures; the API layer maps each to a status and envelope code.
MSG_BAD_CREDENTIALS = "Invalid username or password."
MSG_NO_MEMBERSHIP = "This user is not a member of any organization."
MSG_NOT_A_MEMBER = "This user is not a member of organization '{slug}'."
MSG_CHOOSE_ORGANIZATION = "This user belongs to several organizations; pass 'organization' with one of: {slugs}."


class LoginError(Exception):
    """Why a login was refused; `kind` is credentials, no_membership or choose_organization."""

    def __init__(self, kind: str, message: str, organizations: list[str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.organizations = organizations or []


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def roles_ensure_defaults() -> dict[str, Role]:
    """Creates the seeded roles if missing (never overwrites an edited role)."""
    roles = {}
    for name, (description, permissions) in DEFAULT_ROLES.items():
        role, _ = Role.objects.get_or_create(
            name=name, defaults={"description": description, "permissions": list(permissions)}
        )
        roles[name] = role
    return roles


def organization_ensure(*, slug: str, name: str | None = None) -> Organization:
    organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name or slug.title()})
    return organization


def user_ensure(*, username: str, password: str, email: str = "", superuser: bool = False) -> User:
    """Creates the user or resets its password, so seeding twice converges."""
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    user.is_active = True
    if superuser:
        user.is_staff = user.is_superuser = True
    user.save()
    return user


def membership_set(*, user: User, organization: Organization, role: Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    return membership


def login_membership(*, username: str, password: str, organization_slug: str | None) -> Membership:
    """Checks the password and picks the membership the tokens will name."""
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise LoginError("credentials", MSG_BAD_CREDENTIALS)
    memberships = selectors.memberships_of_user(user_id=user.pk)
    if not memberships:
        raise LoginError("no_membership", MSG_NO_MEMBERSHIP)
    if organization_slug:
        chosen = [m for m in memberships if m.organization.slug == organization_slug]
        if not chosen:
            raise LoginError("no_membership", MSG_NOT_A_MEMBER.format(slug=organization_slug))
        return chosen[0]
    if len(memberships) > 1:
        slugs = [m.organization.slug for m in memberships]
        raise LoginError("choose_organization", MSG_CHOOSE_ORGANIZATION.format(slugs=", ".join(slugs)), slugs)
    return memberships[0]


def api_key_issue(
    *, organization: Organization, name: str, scopes: list[str], created_by: User | None = None
) -> IssuedApiKey:
    """Creates a key; the returned secret is the only time it is ever visible."""
    unknown = sorted(set(scopes) - set(API_KEY_SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(API_KEY_SCOPES)}")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=secret[:API_KEY_DISPLAY_CHARS],
        secret_hash=selectors.api_key_hash(secret),
        scopes=sorted(set(scopes), key=API_KEY_SCOPES.index),
        created_by=created_by,
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# last_used_at is written at most once a minute per key, so authentication stays read-only.
LAST_USED_RESOLUTION_SECONDS = 60


def api_key_touch(*, api_key_id: int, last_used_at: datetime | None) -> None:
    """Records that the key was used now, unless it was within the resolution already."""
    now = timezone.now()
    if last_used_at is None or (now - last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key_id).update(last_used_at=now)


@transaction.atomic
def demo_accounts_seed(*, slug: str, password: str, name: str | None = None) -> Organization:
    """An org with one user per seeded role: `<slug>-admin`, `<slug>-developer`, ..."""
    roles = roles_ensure_defaults()
    organization = organization_ensure(slug=slug, name=name)
    for role_name, role in roles.items():
        # The org admin also gets the Django admin, so the demo can be explored there.
        user = user_ensure(
            username=f"{slug}-{role_name}",
            password=password,
            email=f"{role_name}@{slug}.example",
            superuser=role_name == "admin",
        )
        membership_set(user=user, organization=organization, role=role)
    return organization
