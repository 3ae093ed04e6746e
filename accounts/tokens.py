"""JWTs naming an organization: issued from a membership, validated against it again on use."""

from typing import Any

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership

ORG_ID_CLAIM = "org_id"
ORG_SLUG_CLAIM = "org"
ROLE_CLAIM = "role"
PERMISSIONS_CLAIM = "permissions"


def tokens_for_membership(membership: Membership) -> dict[str, Any]:
    """A refresh/access pair whose claims name the org, the role and its permissions.

    The claims are informative only: every request re-reads the membership, so a changed
    role or a removed membership acts at once whatever tokens are out.
    """
    refresh = RefreshToken.for_user(membership.user)
    refresh[ORG_ID_CLAIM] = membership.organization_id
    refresh[ORG_SLUG_CLAIM] = membership.organization.slug
    refresh[ROLE_CLAIM] = membership.role.name
    refresh[PERMISSIONS_CLAIM] = sorted(membership.role.permissions)
    return {
        "access": str(refresh.access_token),
        "refresh": str(refresh),
        "organization": membership.organization.slug,
        "role": membership.role.name,
        "permissions": sorted(membership.role.permissions),
    }


def access_for_membership(membership: Membership) -> str:
    return tokens_for_membership(membership)["access"]
