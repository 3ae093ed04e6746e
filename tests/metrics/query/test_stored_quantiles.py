"""Percentiles of answer rows made of one models-rollup row come from the quantiles stored beside
its sketch; answer rows made of several rows merge their sketches. Both agree with the reference
sketch of the raw values."""

import math
import random
from datetime import datetime, timedelta

import pytest
from django.db import connection

from metrics.query import builder, catalog, parse, runner
from metrics.rollups.measures import STORED_QUANTILES
from metrics.sketch import sketch_from_values, sketch_quantile
from tests.metrics.query.conftest import DAY, ingest, span

pytestmark = pytest.mark.django_db

PERCENTILES = {"duration_p50": 0.5, "duration_p95": 0.95, "duration_p99": 0.99}


def percentile_series(org_id: int, interval: str):
    return parse.query_from_params(
        {
            "metrics": "duration",
            "interval": interval,
            "group_by": "model",
            "include_percentiles": "true",
            "start_time": DAY.isoformat(),
            "end_time": (DAY + timedelta(days=2)).isoformat(),
        },
        org_id=org_id,
    )


def bucket_of(sent: dict, interval: str) -> str:
    ts = datetime.fromisoformat(sent["start_time"]).replace(minute=0, second=0, microsecond=0)
    if interval == "1day":
        ts = ts.replace(hour=0)
    return ts.isoformat().replace("+00:00", "Z")


def durations_by_cell(spans: list[dict], interval: str) -> dict[tuple[str, str], list[float]]:
    """(bucket, model) → the durations sent in it (empty for a cell of spans without one)."""
    durations: dict[tuple[str, str], list[float]] = {}
    for sent in spans:
        values = durations.setdefault((bucket_of(sent, interval), sent["model"]), [])
        if "duration_ms" in sent:
            values.append(sent["duration_ms"])
    return durations


@pytest.fixture
def mixed_spans(org) -> list[dict]:
    """'solo' has one provider (one models-rollup row per bucket), 'shared' two (two rows per
    bucket), 'silent' no durations at all."""
    rng = random.Random(8)
    spans = []
    for _ in range(900):
        model = rng.choice(["solo", "shared", "silent"])
        provider = rng.choice(["openai", "azure"]) if model == "shared" else "openai"
        duration = None if model == "silent" else round(rng.lognormvariate(6, 1.3), 3)
        spans.append(
            span(
                DAY + timedelta(seconds=rng.uniform(0, 2 * 86400)),
                model=model,
                provider=provider,
                duration_ms=duration,
            )
        )
    ingest(org, spans)
    return spans


@pytest.mark.parametrize("interval", ["1hour", "1day"])
def test_percentiles_agree_with_the_reference_sketch_whether_stored_or_merged(org, mixed_spans, interval):
    query = percentile_series(org.pk, interval)
    assert builder.reads_stored_quantiles(query, runner.plan_query(query).totals)
    # when
    rows = runner.run_query(query).rows
    # then
    durations = durations_by_cell(mixed_spans, interval)
    assert {(row["timestamp"], row["model"]) for row in rows} == set(durations)
    for row in rows:
        values = durations[(row["timestamp"], row["model"])]
        keys, counts = sketch_from_values(values)
        for name, q in PERCENTILES.items():
            expected = sketch_quantile(keys, counts, q)
            if expected is None:
                assert row[name] is None, row
            elif row["model"] == "solo":  # read as stored: the reference's own arithmetic, to the bit
                assert row[name] == expected, (row, name)
            else:  # merged in numpy, whose vector pow may round the last bit differently
                assert math.isclose(row[name], expected, rel_tol=1e-12), (row, name)


def test_only_answer_rows_of_one_rollup_row_read_the_stored_quantiles(org, mixed_spans):
    # given: every stored quantile overwritten with a value no sketch gives
    marker = [123456.0] * len(STORED_QUANTILES)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE llm_models_1hour SET duration_quantiles = %s WHERE org_id = %s AND duration_quantiles IS NOT NULL",
            [marker, org.pk],
        )
        assert cursor.rowcount > 0
    # when
    rows = runner.run_query(percentile_series(org.pk, "1hour")).rows
    # then: 'solo' answers from the stored values; 'shared' merges its two rows' sketches
    solo = [row for row in rows if row["model"] == "solo"]
    shared = [row for row in rows if row["model"] == "shared" and row["duration_p50"] is not None]
    assert solo and all(row[name] == 123456.0 for row in solo for name in PERCENTILES)
    assert any(row["duration_p50"] != 123456.0 for row in shared)


def test_every_percentile_of_the_catalog_is_stored():
    assert set(catalog.PERCENTILES.values()) <= set(STORED_QUANTILES)


def test_a_level_that_is_not_stored_is_answered_from_the_sketches(org, mixed_spans, monkeypatch):
    # given: storage without p95 (as after a catalog change, before the rows are recomputed)
    monkeypatch.setattr(builder, "STORED_QUANTILES", (0.5, 0.99))
    query = percentile_series(org.pk, "1hour")
    assert not builder.reads_stored_quantiles(query, runner.plan_query(query).totals)
    # when
    rows = runner.run_query(query).rows
    # then: every row's percentiles come from its sketch, as the reference computes them
    durations = durations_by_cell(mixed_spans, "1hour")
    checked = 0
    for row in rows:
        values = durations[(row["timestamp"], row["model"])]
        if not values:
            assert row["duration_p95"] is None
            continue
        keys, counts = sketch_from_values(values)
        assert math.isclose(row["duration_p95"], sketch_quantile(keys, counts, 0.95), rel_tol=1e-12)
        checked += 1
    assert checked > 50
