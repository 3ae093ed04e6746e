"""Response caching per organization and normalized query, with ETags; a cache outage only means MISS."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from metrics.api.renderers import exact_json

logger = logging.getLogger(__name__)


def cache_key(kind: str, identity: tuple[Any, ...]) -> str:
    """The org id is the first element of every identity, so orgs never share an entry."""
    digest = hashlib.sha256(repr(identity).encode()).hexdigest()
    return f"metrics:{kind}:{identity[0]}:{digest}"


def render_json(payload: Any) -> bytes:
    """The JSON body, exact decimals included (the same bytes ExactJSONRenderer writes)."""
    return exact_json(payload)


@dataclass(frozen=True)
class Answer:
    payload: Any
    etag: str
    json: bytes  # rendered once, so a cache hit is served without encoding again
    hit: bool


def cached(kind: str, identity: tuple[Any, ...], compute: Callable[[], Any]) -> Answer:
    """Computes and stores on a miss; never fails because of the cache."""
    key = cache_key(kind, identity)
    ttl = settings.CACHE_DEFAULT_TTL
    if ttl > 0:
        try:
            entry = cache.get(key)
        except Exception:  # noqa: BLE001 - any cache failure: answer uncached
            logger.warning("metrics cache unavailable on read; answering uncached", exc_info=True)
            entry = None
        if entry is not None:
            return Answer(entry["payload"], entry["etag"], entry["json"], hit=True)
    payload = compute()
    body = render_json(payload)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if ttl > 0:
        try:
            cache.set(key, {"payload": payload, "etag": etag, "json": body}, timeout=ttl)
        except Exception:  # noqa: BLE001
            logger.warning("metrics cache unavailable on write", exc_info=True)
    return Answer(payload, etag, body, hit=False)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates or "*" in candidates
