"""JWTs naming an organization: issued from a membership, validated against it again on use."""

from typing import Any

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership
from accounts.selectors import ActiveMembership

ORG_ID_CLAIM = "org_id"
ORG_SLUG_CLAIM = "org"
ROLE_CLAIM = "role"
PERMISSIONS_CLAIM = "permissions"


def tokens_for(membership: ActiveMembership) -> dict[str, Any]:
    """A refresh/access pair whose claims name the org, the role and its permissions.

    The claims are informative only: every request re-reads the membership, so a changed
    role or a removed membership acts at once whatever tokens are out.
    """
    refresh = RefreshToken.for_user(membership.user)
    refresh[ORG_ID_CLAIM] = membership.organization_id
    refresh[ORG_SLUG_CLAIM] = membership.organization_slug
    refresh[ROLE_CLAIM] = membership.role
    refresh[PERMISSIONS_CLAIM] = sorted(membership.permissions)
    return {
        "access": str(refresh.access_token),
        "refresh": str(refresh),
        "organization": membership.organization_slug,
        "role": membership.role,
        "permissions": sorted(membership.permissions),
    }


def tokens_for_membership(membership: Membership) -> dict[str, Any]:
    """tokens_for, from a Membership model instance (login, tests)."""
    return tokens_for(
        ActiveMembership(
            user=membership.user,
            organization_id=membership.organization_id,
            organization_slug=membership.organization.slug,
            role=membership.role.name,
            permissions=frozenset(membership.role.permissions),
            retention_days=membership.organization.retention_days,
        )
    )


def access_for_membership(membership: Membership) -> str:
    access: str = tokens_for_membership(membership)["access"]
    return access
