"""Which rollup table a question reads: the one of its grain with the fewest dimensions that holds
every dimension it groups or filters by (the numbers themselves are checked by test_oracle)."""

from datetime import UTC, datetime

import pytest

from metrics.query import sources
from metrics.query.parse import query_from_body

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
PRODUCTION = {"dimension": "environment", "operator": "eq", "value": "production"}
OPENAI = {"dimension": "provider", "operator": "eq", "value": "openai"}


def tables_read(interval: str, group_by: list[str], filters: list[dict]) -> set[str]:
    body = {
        "metrics": [{"metric": "duration", "aggregation": "p95"}],
        "interval": interval,
        "start_time": "2026-11-01T00:00:00Z",
        "end_time": "2026-11-08T00:00:00Z",
        "group_by": group_by,
        "filters": filters,
    }
    query = query_from_body(body, org_id=1, now=NOW)
    return {segment.table for segment in sources.plan_totals(query)}


@pytest.mark.parametrize(
    ("group_by", "filters", "hour_table"),
    [
        ([], [], "llm_totals_1hour"),
        (["model"], [], "llm_models_1hour"),
        (["model"], [OPENAI], "llm_models_1hour"),
        (["provider", "model"], [], "llm_models_1hour"),
        (["model"], [PRODUCTION], "llm_models_env_1hour"),
        (["environment"], [OPENAI], "llm_models_env_1hour"),
        (["status_code"], [], "llm_metrics_1hour"),
    ],
)
def test_the_smallest_table_holding_the_dimensions_is_read(group_by, filters, hour_table) -> None:
    assert tables_read("1hour", group_by, filters) == {hour_table}
    assert tables_read("1day", group_by, filters) == {hour_table.replace("_1hour", "_1day")}
