"""Rate limits per role and per API key, counted in the shared cache (Redis in production).

A fixed one-minute window per caller: one INCR per request, shared by every process that
uses the same cache. If the cache is down the request is let through (and logged): a cache
outage must never take the API down.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.principal import Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }

    def retry_after(self, now: float) -> int:
        return max(1, int(self.reset_at - now))


def rate_limit_consume(*, key: str, limit: int, window_seconds: int, now: float | None = None) -> RateLimitState:
    """Counts one request against `key` in the current window."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    reset_at = window_start + window_seconds
    cache_key = f"ratelimit:{key}:{window_start}"
    try:
        cache.add(cache_key, 0, timeout=window_seconds + 5)
        count = int(cache.incr(cache_key))
    except Exception:  # noqa: BLE001 - any cache failure means "fail open"
        logger.warning("rate-limit store unavailable; request let through", exc_info=True)
        return RateLimitState(limit=limit, remaining=limit, reset_at=reset_at, allowed=True)
    return RateLimitState(limit=limit, remaining=max(0, limit - count), reset_at=reset_at, allowed=count <= limit)


def rate_limit_for(principal: Principal | None) -> tuple[str, int]:
    """The counter key and the per-window limit that apply to a caller."""
    limits: dict[str, int] = settings.RATE_LIMITS
    if principal is None:
        return "anonymous", limits.get("anonymous", limits["default"])
    limit = limits.get(principal.rate_limit_class, limits["default"])
    return f"{principal.kind}:{principal.subject_id}", limit


class PrincipalRateThrottle(BaseThrottle):
    """DRF throttle applying `rate_limit_consume`; records the state for the response headers."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if not settings.RATE_LIMIT_ENABLED:
            return True
        principal = request.auth if isinstance(request.auth, Principal) else None
        key, limit = rate_limit_for(principal)
        if principal is None:
            key = f"{key}:{self.get_ident(request)}"
        self.state = rate_limit_consume(key=key, limit=limit, window_seconds=settings.RATE_LIMIT_WINDOW_SECONDS)
        # Read by RateLimitHeadersMiddleware, which sees the plain HttpRequest.
        request._request.rate_limit_state = self.state  # type: ignore[attr-defined]
        return self.state.allowed

    def wait(self) -> float | None:
        return float(self.state.retry_after(time.time()))
