"""Expected rollup rows computed in plain Python from the spans sent: the independent check."""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from metrics.rollups.measures import MEASURES, ROLLUP_DIMENSIONS, STORED_QUANTILES, Grain, Rollup
from metrics.sketch import sketch_from_values, sketch_quantile


def truncate(ts: datetime, grain: Grain) -> datetime:
    ts = ts.astimezone(UTC)
    if grain.date_trunc == "minute":
        return ts.replace(second=0, microsecond=0)
    if grain.date_trunc == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def expected_rollups(
    spans: list[dict[str, Any]],
    grain: Grain,
    dimensions: tuple[str, ...] = ROLLUP_DIMENSIONS,
    stores_quantiles: bool = False,
) -> dict[tuple, dict[str, Any]]:
    """Rollup rows keyed by (bucket, *dimensions); with `stores_quantiles`, each latency measure's
    quantiles at every stored level, from the reference sketch (None when it has no values)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        key = (truncate(span["ts"], grain), *(span[d] for d in dimensions))
        groups[key].append(span)
    rows = {}
    for key, members in groups.items():
        row: dict[str, Any] = {
            "request_count": len(members),
            "error_count": sum(1 for m in members if m["status_code"] == "ERROR"),
        }
        for measure in MEASURES:
            values = [m[measure.span_column] for m in members if m[measure.span_column] is not None]
            row[f"{measure.name}_count"] = len(values)
            row[f"{measure.name}_sum"] = sum(values, Decimal(0) if measure.numeric else 0)
            row[f"{measure.name}_min"] = min(values) if values else None
            row[f"{measure.name}_max"] = max(values) if values else None
            if measure.kind == "latency":
                row[f"{measure.name}_sumsq"] = sum((v * v for v in values), Decimal(0))
                keys, counts = sketch_from_values(values)
                row[f"{measure.name}_sketch_keys"] = keys
                row[f"{measure.name}_sketch_counts"] = counts
                if stores_quantiles:
                    row[f"{measure.name}_quantiles"] = (
                        [sketch_quantile(keys, counts, q) for q in STORED_QUANTILES] if values else None
                    )
        rows[key] = row
    return rows


def expected_table(spans: list[dict[str, Any]], rollup: Rollup) -> dict[tuple, dict[str, Any]]:
    """The rows a rollup table should hold for these spans."""
    return expected_rollups(spans, rollup.grain, rollup.dimensions, rollup.stores_quantiles)


def expected_activity(spans: list[dict[str, Any]], identity: str) -> set[tuple]:
    """Each (day, identity, provider, model, environment, status) seen."""
    day = Grain("1day", "", "day", 86400, 0)
    return {
        (truncate(span["ts"], day), span[identity], *(span[d] for d in ROLLUP_DIMENSIONS))
        for span in spans
        if span[identity] is not None
    }


def expected_identities(spans: list[dict[str, Any]], identity: str, grain: Grain) -> dict[datetime, set[str]]:
    """The identities seen in each bucket (what the bitmaps hold)."""
    seen: dict[datetime, set[str]] = defaultdict(set)
    for span in spans:
        if span[identity] is not None:
            seen[truncate(span["ts"], grain)].add(span[identity])
    return dict(seen)


def expected_errors(spans: list[dict[str, Any]], grain: Grain) -> dict[tuple, tuple[int, str | None]]:
    """Failed spans per (bucket, provider, model, environment, error type or ''): count, smallest message."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        if span["status_code"] == "ERROR":
            key = (truncate(span["ts"], grain), span["provider"], span["model"], span["environment"])
            groups[(*key, span["error_type"] or "")].append(span)
    return {
        key: (len(members), min((m["error_message"] for m in members if m["error_message"]), default=None))
        for key, members in groups.items()
    }


def normalize_db_rows(
    rows: list[dict[str, Any]], dimensions: tuple[str, ...] = ROLLUP_DIMENSIONS
) -> dict[tuple, dict[str, Any]]:
    result = {}
    for row in rows:
        key = (row["bucket"], *(row[d] for d in dimensions))
        result[key] = {k: v for k, v in row.items() if k not in ("org_id", "bucket", *dimensions)}
    return result
