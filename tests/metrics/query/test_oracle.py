"""The oracle suite: random valid queries over random spans, every number against plain Python.

Spans go in through the real ingest pipeline; queries go through the real HTTP endpoint;
the expected answers are computed in Python from the stored raw spans (oracle.py). Counts,
sums, min/max and averages must match exactly (to 1e-9 for divisions), percentiles within
1 % (exactly when raw spans answered), across intervals, time zones, groups, filters, HAVING,
sorting, aligned and unaligned ranges (rollup and raw segments mixed).
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from metrics.query import catalog, runner
from tests.metrics.factories import stored_spans
from tests.metrics.query.oracle import expected_rows, passes_having

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 7, 20, tzinfo=UTC)
DATA_START = NOW - timedelta(days=3)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
DIMS = list(catalog.DIMENSIONS)
PAIRS = [(m.name, a) for m in catalog.METRICS.values() for a in (m.aggregations or (None,))]


def make_spans(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    spans = []
    for i in range(count):
        if i % 10 == 0:  # on an exact minute or hour: bucket and range edges
            ts = DATA_START + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        else:
            ts = DATA_START + timedelta(seconds=rng.uniform(0, 3 * 86400))
        priced = rng.random() < 0.8
        span = {
            "trace_id": f"{rng.getrandbits(128) | 1:032x}",
            "span_id": f"{rng.getrandbits(64) | 1:016x}",
            "start_time": ts.isoformat(),
            "provider": rng.choice(["prov-a", "prov-b", "prov-c"]),
            "model": rng.choice(["m-small", "m-large", "m-x_1", "m%pct"]),
            "environment": rng.choice(["production", "staging", None]),
            "status_code": rng.choice(["OK", "OK", "OK", "UNSET", "ERROR"]),
            "duration_ms": None if rng.random() < 0.1 else round(rng.lognormvariate(6, 1.2), 3),
            "ttft_ms": round(rng.uniform(0, 500), 3) if rng.random() < 0.5 else None,
            "prompt_tokens": rng.randint(0, 5000) if rng.random() < 0.9 else None,
            "completion_tokens": rng.randint(0, 800),
            "total_cost_usd": str(Decimal(rng.randint(0, 10**7)) / 10**9) if priced else None,
            "user_id": rng.choice(["alice", "bob", "carol", "dave", None]),
            "session_id": rng.choice(["s1", "s2", "s3", None]),
        }
        spans.append({k: v for k, v in span.items() if v is not None})
    return spans


class StoredSpans(list):
    """The stored spans, with a short repr so that failure reports stay readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} stored spans>"


@pytest.fixture
def dataset(org):
    """500 spans sent in shuffled batches (so many arrive late for their buckets), one batch twice."""
    spans = make_spans(seed=20261126, count=500)
    random.Random(7).shuffle(spans)
    batches = [spans[i : i + 60] for i in range(0, len(spans), 60)]
    accepted = 0
    for batch in [*batches, batches[2]]:
        accepted += pipeline.ingest(org, [(i, parse_json_span(s)) for i, s in enumerate(batch)]).accepted
    assert accepted == 500
    return StoredSpans(stored_spans(org.pk))


def moment(draw, aligned: bool) -> datetime:
    offset = draw(st.integers(-12 * 3600, int(3.2 * 86400)))
    value = DATA_START + timedelta(seconds=offset)
    if aligned:
        unit = draw(st.sampled_from([60, 3600, 86400]))
        value = datetime.fromtimestamp(int(value.timestamp()) // unit * unit, tz=UTC)
    return value


@st.composite
def query_bodies(draw, values: dict[str, list[str]]) -> dict:
    pairs = draw(st.lists(st.sampled_from(PAIRS), min_size=1, max_size=4, unique=True))
    metrics = [{"metric": m, **({"aggregation": a} if a else {}), "alias": f"m{i}"} for i, (m, a) in enumerate(pairs)]
    interval = draw(st.sampled_from([None, "1min", "5min", "15min", "1hour", "1day", "1week", "1month"]))
    aligned = draw(st.booleans())
    start = moment(draw, aligned)
    length = timedelta(seconds=draw(st.integers(60, 4 * 86400)))
    end = start + length
    if aligned:
        end = datetime.fromtimestamp(int(end.timestamp()) // 3600 * 3600 + 3600, tz=UTC)
    group_by = draw(st.lists(st.sampled_from(DIMS), max_size=2, unique=True))
    filters = []
    for dimension in draw(st.lists(st.sampled_from(DIMS), max_size=2)):
        operator = draw(st.sampled_from(catalog.FILTER_OPERATORS))
        pool = values[dimension]
        if operator in ("in", "not_in"):
            value = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        elif operator in ("contains", "starts_with"):
            value = draw(st.sampled_from(pool))[: draw(st.integers(1, 3))]
        else:
            value = draw(st.sampled_from(pool))
        filters.append({"dimension": dimension, "operator": operator, "value": value})
    body = {
        "metrics": metrics,
        "interval": interval,
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "timezone": draw(st.sampled_from(ZONES)),
        "group_by": group_by,
        "filters": filters,
        "limit": 10_000,
    }
    if draw(st.integers(0, 3)) == 0:
        metric, aggregation = draw(st.sampled_from(PAIRS))
        condition = {"metric": metric, "operator": draw(st.sampled_from(list(catalog.HAVING_OPERATORS)))}
        if aggregation:
            condition["aggregation"] = aggregation
        condition["value"] = draw(st.sampled_from([0, 1, 2, 0.5, 100, 500.5, 0.001]))
        body["having"] = [condition]
    if draw(st.booleans()):
        body["sort_by"] = {
            "field": draw(st.sampled_from([m["alias"] for m in metrics])),
            "descending": draw(st.booleans()),
        }
    return body


def close(actual, expected, relative: str) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    actual, expected = Decimal(str(actual)), Decimal(str(expected))
    if expected == 0:
        return abs(actual) <= Decimal("1e-9")
    return abs(actual - expected) / abs(expected) <= Decimal(relative)


def tolerance(metric: str, aggregation: str | None, source: str) -> str:
    if aggregation in catalog.PERCENTILES:
        return "0" if source == "raw" else "0.01"
    if aggregation in ("avg", "stddev") or metric in ("error_rate", "success_rate", "throughput"):
        return "1e-6"
    return "0"  # counts, sums, min, max: exact


def row_key(row: dict, body: dict) -> tuple:
    bucket = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")) if body["interval"] else None
    return (bucket, *(row[d] for d in body["group_by"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_number_matches_an_independent_computation(dataset, org, make_member, client_for, data, monkeypatch):
    # Long percentile series are fetched in parts, as on a 3-core machine whatever this one has.
    monkeypatch.setattr(runner, "PARTS", 3)
    values = {d: sorted({s[d] for s in dataset if s[d]}) for d in DIMS}
    body = data.draw(query_bodies(values))
    client = client_for(make_member("developer", org, username="oracle-dev"))
    # when
    response = client.post("/api/v1/metrics/query", data=orjson.dumps(body), content_type="application/json")
    # then
    assert response.status_code == 200, response.json()
    answer = response.json()
    source = answer["metadata"]["data_source"]
    spec = dict(body, start=datetime.fromisoformat(body["start_time"]), end=datetime.fromisoformat(body["end_time"]))
    all_rows = {
        (k[0] if body["interval"] else None, *((v or None) for v in k[1:])): row
        for k, row in expected_rows(dataset, spec).items()
    }
    expected = {key: row for key, row in all_rows.items() if passes_having(row, body.get("having", []))}
    actual = {row_key(row, body): row for row in answer["data"]}
    # A sketch percentile may fall on either side of a HAVING threshold within its 1 %: skip those groups.
    for condition in body.get("having", []):
        if condition.get("aggregation") in catalog.PERCENTILES and source != "raw":
            threshold = Decimal(str(condition["value"]))
            for key, row in all_rows.items():
                exact = row["_having_0"]
                if exact is not None and abs(Decimal(str(exact)) - threshold) <= abs(threshold) * Decimal("0.011"):
                    expected.pop(key, None)
                    actual.pop(key, None)
    assert set(actual) == set(expected), f"groups differ for {body}"
    if "sort_by" in body:
        column, descending = body["sort_by"]["field"], body["sort_by"]["descending"]
        values = [row[column] for row in answer["data"] if row[column] is not None]
        assert values == sorted(values, reverse=descending), (column, values)
        nulls = [row[column] is None for row in answer["data"]]
        assert nulls == sorted(nulls), "nulls sort last"
    for key, row in expected.items():
        for item in body["metrics"]:
            alias, aggregation = item["alias"], item.get("aggregation")
            wanted = row[alias]
            if wanted is None and aggregation in ("sum", "count"):
                wanted = 0
            assert close(actual[key][alias], wanted, tolerance(item["metric"], aggregation, source)), (
                alias,
                item,
                key,
                actual[key][alias],
                wanted,
                source,
                body,
            )
