"""GET /metrics/summary parameters → a validated SummaryRequest."""

from datetime import UTC, datetime
from typing import Any

from metrics.query.parse import filters_from_params, parse_boolean, refuse_unknown_keys
from metrics.query.spec import Problems, parse_range
from metrics.query.summary import SummaryRequest

SUMMARY_PARAMS = frozenset(
    {"start_time", "end_time", "provider", "model", "environment", "compare_previous_period", "top_n", "format"}
)
MAX_TOP_N = 50


def summary_from_params(params: Any, *, org_id: int, now: datetime | None = None) -> SummaryRequest:
    now = now or datetime.now(UTC)
    problems = Problems()
    refuse_unknown_keys(params.keys(), SUMMARY_PARAMS, problems, "")
    start, end = parse_range(params.get("start_time"), params.get("end_time"), problems, now=now)
    filters = filters_from_params(params, ("provider", "model", "environment"), problems)
    compare = True
    if params.get("compare_previous_period") not in (None, ""):
        compare = parse_boolean(params.get("compare_previous_period"), problems, "compare_previous_period")
    top_n = 5
    if params.get("top_n") not in (None, ""):
        try:
            top_n = int(params.get("top_n"))
        except (TypeError, ValueError):
            top_n = 0
        if not 1 <= top_n <= MAX_TOP_N:
            problems.add("top_n", f"Must be an integer from 1 to {MAX_TOP_N}.")
    problems.raise_if_any()
    return SummaryRequest(
        org_id=org_id, start=start, end=end, filters=filters, compare_previous=compare, top_n=top_n, now=now
    )
