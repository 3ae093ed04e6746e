"""The authenticated caller as the rest of the code sees it: an org and what it may do."""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Principal:
    """Set as `request.auth` by both authentication classes."""

    kind: Literal["user", "api_key"]
    subject_id: int  # the user id or the API key id
    organization_id: int
    organization_slug: str
    role: str | None  # None for API keys
    permissions: frozenset[str]
    retention_days: int  # the organization's, read with the credentials (ingest needs it)

    @property
    def pk(self) -> int:
        """The organization's id: a principal stands for its tenant wherever one is expected."""
        return self.organization_id

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def rate_limit_class(self) -> str:
        """The RATE_LIMITS entry that applies: the role's for users, `api_key` for keys."""
        return "api_key" if self.kind == "api_key" else (self.role or "default")


@dataclass(frozen=True, slots=True)
class ApiKeyCaller:
    """Stands in for `request.user` when an API key authenticated the request."""

    api_key_id: int
    name: str
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    username: str = ""

    def __str__(self) -> str:
        return f"api-key:{self.name}"
