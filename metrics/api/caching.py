"""Response caching per organization and normalized query, with ETags; a cache outage only means MISS."""

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import simplejson
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def cache_key(kind: str, identity: tuple[Any, ...]) -> str:
    """The org id is the first element of every identity, so orgs never share an entry."""
    digest = hashlib.sha256(repr(identity).encode()).hexdigest()
    return f"metrics:{kind}:{identity[0]}:{digest}"


def etag_of(payload: Any) -> str:
    body = simplejson.dumps(payload, use_decimal=True, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def cached(kind: str, identity: tuple[Any, ...], compute: Callable[[], Any]) -> tuple[Any, str, bool]:
    """(payload, etag, hit). Computes and stores on a miss; never fails because of the cache."""
    key = cache_key(kind, identity)
    ttl = settings.CACHE_DEFAULT_TTL
    if ttl > 0:
        try:
            entry = cache.get(key)
        except Exception:  # noqa: BLE001 - any cache failure: answer uncached
            logger.warning("metrics cache unavailable on read; answering uncached", exc_info=True)
            entry = None
        if entry is not None:
            return entry["payload"], entry["etag"], True
    payload = compute()
    etag = etag_of(payload)
    if ttl > 0:
        try:
            cache.set(key, {"payload": payload, "etag": etag}, timeout=ttl)
        except Exception:  # noqa: BLE001
            logger.warning("metrics cache unavailable on write", exc_info=True)
    return payload, etag, False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates or "*" in candidates
