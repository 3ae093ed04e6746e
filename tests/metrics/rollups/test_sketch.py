"""The quantile sketch: within 1 % of the exact nearest-rank percentile, mergeable, same keys in SQL."""

import math
import random
from decimal import Decimal

import pytest
from django.db import connection

from metrics.sketch import RELATIVE_ACCURACY, sketch_from_values, sketch_merge, sketch_quantile

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def exact_percentile_disc(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_disc: the value at 1-based position ceil(q·n) of the sorted values."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def assert_within_one_percent(values: list[float]) -> None:
    keys, counts = sketch_from_values(values)
    for q in QUANTILES:
        exact = exact_percentile_disc(values, q)
        estimate = sketch_quantile(keys, counts, q)
        if exact == 0:
            assert estimate == 0
        else:
            assert abs(estimate - exact) / exact <= 0.01, (q, exact, estimate)


rng = random.Random(20261126)
DISTRIBUTIONS = {
    "constant": [250.0] * 1000,
    "single": [42.123],
    "two-values": [1.0, 1000.0],
    "tiny-counts": [0.001, 0.002, 5.0],
    "with-zeros": [0.0] * 10 + [3.5] * 5,
    "bimodal": [rng.gauss(50, 2) for _ in range(500)] + [rng.gauss(20_000, 500) for _ in range(500)],
    "heavy-tail": [rng.paretovariate(0.8) * 10 for _ in range(5000)],
    "log-normal": [rng.lognormvariate(6.5, 1.2) for _ in range(5000)],
    "ten-decades": [10 ** rng.uniform(-3, 7) for _ in range(3000)],
    "bucket-edges": [1.0191818181**k for k in range(-300, 900)],
}


@pytest.mark.parametrize("values", DISTRIBUTIONS.values(), ids=DISTRIBUTIONS.keys())
def test_quantiles_are_within_one_percent_of_exact(values):
    assert_within_one_percent([round(v, 3) for v in values])


def test_the_promised_accuracy_is_under_one_percent():
    assert RELATIVE_ACCURACY < 0.01


def test_merged_sketches_answer_as_one_sketch_over_all_values():
    parts = [[rng.lognormvariate(5, 1) for _ in range(rng.randint(1, 200))] for _ in range(20)]
    merged = sketch_merge(sketch_from_values(part) for part in parts)
    whole = sketch_from_values([v for part in parts for v in part])
    assert merged == whole


def test_an_empty_sketch_has_no_quantiles():
    assert sketch_quantile([], [], 0.5) is None


@pytest.mark.django_db
def test_sql_and_python_put_every_value_in_the_same_bucket():
    values = [Decimal("0.000"), Decimal("0.001"), Decimal("1.000"), Decimal("999999999.999")]
    values += [Decimal(str(round(10 ** rng.uniform(-3, 8), 3))) for _ in range(3000)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT v, sketch_key(v) FROM unnest(%s::numeric[]) AS v", [values])
        rows = cursor.fetchall()
    from metrics.sketch import sketch_key

    mismatches = [(v, key) for v, key in rows if sketch_key(v) != key]
    assert mismatches == []


@pytest.mark.django_db
def test_sql_merge_adds_counts_key_by_key():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM sketch_merge(ARRAY[1, 5, 9], ARRAY[2, 1, 1]::bigint[], ARRAY[5, 7], ARRAY[3, 4]::bigint[])"
        )
        keys, counts = cursor.fetchone()
    assert (keys, counts) == ([1, 5, 7, 9], [2, 4, 4, 1])


@pytest.mark.django_db
def test_sql_merge_equals_the_reference_merge_on_any_overlap():
    generator = random.Random(3)

    def sketch(size: int) -> tuple[list[int], list[int]]:
        keys = sorted(generator.sample(range(-100_000, 2_000), size))
        return keys, [generator.randint(1, 2**40) for _ in keys]

    pairs = [(sketch(a), sketch(b)) for a, b in [(0, 0), (0, 5), (7, 0), (1, 1), (40, 3), (3, 120), (200, 200)]]
    pairs.append((([1, 2], [1, 1]), ([3, 4], [1, 1])))  # all of one before the other
    pairs.append((([3, 4], [1, 1]), ([1, 2], [1, 1])))
    pairs.append((([1, 2, 3], [1, 1, 1]), ([1, 2, 3], [5, 5, 5])))  # the same keys
    with connection.cursor() as cursor:
        for (a_keys, a_counts), (b_keys, b_counts) in pairs:
            cursor.execute(
                "SELECT * FROM sketch_merge(%s::integer[], %s::bigint[], %s::integer[], %s::bigint[])",
                [a_keys, a_counts, b_keys, b_counts],
            )
            assert cursor.fetchone() == tuple(sketch_merge([(a_keys, a_counts), (b_keys, b_counts)]))
        cursor.execute("SELECT * FROM sketch_merge(NULL, NULL, ARRAY[2, 4], ARRAY[1, 3]::bigint[])")
        assert cursor.fetchone() == ([2, 4], [1, 3])  # a missing sketch is an empty one


@pytest.mark.django_db
@pytest.mark.parametrize("parts_per_row", [1, 3])  # 1: each row one stored sketch, in key order
def test_the_vectorised_merge_answers_like_the_reference_sketch(parts_per_row):
    from metrics.query.percentiles import COUNT_ELEMENT, KEY_ELEMENT, batch_quantiles, decode_arrays, elements_sql

    generator = random.Random(99)
    rows_keys, rows_counts, expected = [], [], []
    quantiles = [0.0, 0.5, 0.95, 0.999, 1.0]
    for size in [0, 1, 3, 40, 0, 700, 2]:
        values = [round(generator.lognormvariate(5, 2), 3) if generator.random() > 0.05 else 0.0 for _ in range(size)]
        parts = [sketch_from_values(values[i::parts_per_row]) for i in range(parts_per_row)]
        rows_keys.append([k for keys, _ in parts for k in keys])
        rows_counts.append([c for _, counts in parts for c in counts])
        merged = sketch_from_values(values)
        expected.append([sketch_quantile(*merged, q) for q in quantiles])
    # the arrays travel as PostgreSQL's array_send() bytes without the header, as the metrics queries send them
    with connection.cursor() as cursor:
        encoded = []
        for keys, counts in zip(rows_keys, rows_counts, strict=True):
            select = f"SELECT {elements_sql('%s::integer[]')}, {elements_sql('%s::bigint[]')}"
            cursor.execute(select, [keys, counts])
            encoded.append(tuple(bytes(b) for b in cursor.fetchone()))
    encoded.append((None, None))  # a row without a sketch
    rows_keys.append([])
    rows_counts.append([])
    expected.append([None] * len(quantiles))
    lengths, keys = decode_arrays([k for k, _ in encoded], KEY_ELEMENT)
    _, counts = decode_arrays([c for _, c in encoded], COUNT_ELEMENT)
    assert lengths.tolist() == [len(k) for k in rows_keys]
    assert keys.tolist() == [k for row in rows_keys for k in row]
    assert counts.tolist() == [c for row in rows_counts for c in row]
    actual = batch_quantiles(lengths, keys, counts, quantiles)
    assert [[v is None for v in row] for row in actual] == [[v is None for v in row] for row in expected]
    for got_row, want_row in zip(actual, expected, strict=True):
        for got, want in zip(got_row, want_row, strict=True):
            # the same bucket; numpy's vector pow may round the last bit differently
            assert got is None or math.isclose(got, want, rel_tol=1e-12, abs_tol=0), (got, want)


@pytest.mark.django_db
def test_sql_stored_quantiles_are_the_reference_quantiles_to_the_bit():
    """sketch_quantiles (the rollups' stored quantiles) walks a sketch as sketch_quantile does."""
    levels = list(QUANTILES)  # ascending, with both ends
    sketches = [sketch_from_values(values) for values in DISTRIBUTIONS.values()]
    sketches.append(([-100_000], [7]))  # only zeros
    sketches.append(([3], [2**40]))  # one key, a count past 32 bits
    sketches.append(([-100_000, 10, 11], [1, 1, 10**12]))  # the zero bucket below a heavy one
    with connection.cursor() as cursor:
        for keys, counts in sketches:
            cursor.execute("SELECT sketch_quantiles(%s::integer[], %s::bigint[], %s::float8[])", [keys, counts, levels])
            (stored,) = cursor.fetchone()
            assert stored == [sketch_quantile(keys, counts, q) for q in levels], keys[:5]
        cursor.execute("SELECT sketch_quantiles('{}'::integer[], '{}'::bigint[], %s::float8[])", [levels])
        assert cursor.fetchone() == (None,)
