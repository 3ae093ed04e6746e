"""The permission codes: one catalog for roles, API-key scopes, views and the admin."""

METRICS_READ = "metrics:read"
METRICS_QUERY = "metrics:query"
SPANS_WRITE = "spans:write"
API_KEYS_MANAGE = "api_keys:manage"

PERMISSIONS: dict[str, str] = {
    METRICS_READ: "Read metrics: time series and summaries",
    METRICS_QUERY: "Run custom metrics queries",
    SPANS_WRITE: "Send spans (OTLP and JSON ingestion)",
    API_KEYS_MANAGE: "Create, list and revoke the organization's API keys",
}
PERMISSION_CHOICES = [(code, f"{code} — {text}") for code, text in PERMISSIONS.items()]

# What an API key may be granted: data-plane scopes only, never key management.
API_KEY_SCOPES: tuple[str, ...] = (SPANS_WRITE, METRICS_READ, METRICS_QUERY)

# The seeded roles (SPEC §3); editable afterwards in the admin.
DEFAULT_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Everything, including API keys", tuple(PERMISSIONS)),
    "developer": ("Reads and queries metrics, sends spans", (METRICS_READ, METRICS_QUERY, SPANS_WRITE)),
    "viewer": ("Reads metrics", (METRICS_READ,)),
    "billing": ("Reads metrics, for cost reporting", (METRICS_READ,)),
}
