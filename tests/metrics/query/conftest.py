"""Fixtures for the metrics endpoints: a small known dataset and authenticated clients."""

from datetime import UTC, datetime, timedelta

import pytest

from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from tests.metrics.factories import new_span_id, new_trace_id

DAY = datetime(2026, 11, 20, tzinfo=UTC)  # a fixed, fully past day


def span(ts: datetime, **fields) -> dict:
    body = {
        "trace_id": new_trace_id(),
        "span_id": new_span_id(),
        "start_time": ts.isoformat(),
        "provider": "openai",
        "model": "gpt-4o",
        "duration_ms": 100,
        "status_code": "OK",
        "environment": "production",
        "total_cost_usd": "0.01",
        "prompt_tokens": 100,
        "completion_tokens": 10,
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def ingest(organization, spans: list[dict]) -> None:
    result = pipeline.ingest(organization, [(i, parse_json_span(s)) for i, s in enumerate(spans)])
    assert result.accepted == len(spans), result.rejected


@pytest.fixture
def known_spans(org) -> list[dict]:
    """Ten spans on DAY: 6 openai (2 errors), 4 anthropic; durations 100..1000 ms; 3 users."""
    spans = []
    for i in range(10):
        provider = "openai" if i < 6 else "anthropic"
        spans.append(
            span(
                DAY + timedelta(hours=i, minutes=7),
                provider=provider,
                model="gpt-4o" if provider == "openai" else "claude-3-5-sonnet",
                duration_ms=100 * (i + 1),
                status_code="ERROR" if i in (1, 4) else "OK",
                error_type="RateLimitError" if i in (1, 4) else None,
                error_message="Rate limit reached" if i in (1, 4) else None,
                user_id=f"user-{i % 3}",
                session_id=f"session-{i % 2}",
                total_cost_usd=f"{(i + 1) / 1000:.3f}",
            )
        )
    ingest(org, spans)
    return spans


@pytest.fixture
def reader(org, make_member, client_for):
    return client_for(make_member("viewer", org))


@pytest.fixture
def querier(org, make_member, client_for):
    return client_for(make_member("developer", org))
