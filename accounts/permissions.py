"""RBAC: the one permission class. Views declare the code each HTTP method needs."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.principal import Principal

MSG_NEEDS_PERMISSION = "This action needs the permission '{permission}'."
MSG_METHOD_NOT_PERMITTED = "This endpoint grants no permission for {method}."

# A view's `required_permissions` value meaning "any authenticated caller of the org".
ANY_MEMBER = "any-member"


class RequiredPermission(BasePermission):
    """Checks `view.required_permissions[method]` against the caller's current permissions.

    Secure by default: a method missing from the mapping is refused, and a view without a
    mapping is refused entirely.
    """

    message = "Permission denied."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return False  # DRF answers 401 when nobody authenticated
        required: dict[str, str] = getattr(view, "required_permissions", {})
        method = "GET" if request.method == "HEAD" else (request.method or "")
        if method == "OPTIONS":
            return True
        permission = required.get(method)
        if permission is None:
            self.message = MSG_METHOD_NOT_PERMITTED.format(method=method)
            return False
        if permission == ANY_MEMBER or principal.has(permission):
            return True
        self.message = MSG_NEEDS_PERMISSION.format(permission=permission)
        return False


def principal_of(request: Request) -> Principal:
    """The authenticated principal; views behind RequiredPermission always have one."""
    principal = request.auth
    if not isinstance(principal, Principal):
        raise TypeError("view reached without an authenticated principal")
    return principal
