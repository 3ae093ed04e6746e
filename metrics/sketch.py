"""A mergeable quantile sketch with a guaranteed relative error (DDSketch-style log buckets).

A positive value x falls in bucket k = ceil(ln(x) / ln(γ)), i.e. γ^(k-1) < x ≤ γ^k, and the
bucket is represented by 2·γ^k / (γ + 1), which is within α = (γ - 1)/(γ + 1) of every value
in the bucket. Zero (and anything below the smallest stored duration) has a bucket of its own
represented by 0. A sketch is a sorted list of (key, count); merging adds counts per key, so
merged sketches answer exactly as one sketch fed with all the values would.

The same key function runs in PostgreSQL (`sketch_key`, created by migration 0003) to build
rollups in SQL; both compute ln() in IEEE double precision with the C library's log, so a
value lands in the same bucket on either side.

Quantiles use the nearest-rank definition of PostgreSQL's `percentile_disc`: the value at
1-based position ceil(q·n) of the sorted values. The sketch finds the bucket holding that
value, so its answer is within α of the exact `percentile_disc` answer on the same values.
"""

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

RELATIVE_ACCURACY = 0.0095  # α: a margin under the promised 1 %
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LN_GAMMA = math.log(GAMMA)
ZERO_KEY = -100_000  # the bucket of values ≤ MIN_POSITIVE, represented by 0
MIN_POSITIVE = 0.0005  # below the 0.001 ms resolution of stored durations

# The SQL twin of `sketch_key`, kept textually next to the constants it needs.
SQL_LN_GAMMA = repr(LN_GAMMA)


def sketch_key(value: float | Decimal) -> int:
    x = float(value)
    if x <= MIN_POSITIVE:
        return ZERO_KEY
    return math.ceil(math.log(x) / LN_GAMMA)


def key_value(key: int) -> float:
    """The representative value of a bucket."""
    if key == ZERO_KEY:
        return 0.0
    return 2.0 * GAMMA**key / (GAMMA + 1.0)


def sketch_from_values(values: Iterable[float | Decimal]) -> tuple[list[int], list[int]]:
    counts: dict[int, int] = {}
    for value in values:
        key = sketch_key(value)
        counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts)
    return keys, [counts[k] for k in keys]


def sketch_merge(
    sketches: Iterable[tuple[Sequence[int], Sequence[int]]],
) -> tuple[list[int], list[int]]:
    counts: dict[int, int] = {}
    for keys, values in sketches:
        for key, count in zip(keys, values, strict=True):
            counts[key] = counts.get(key, 0) + int(count)
    keys = sorted(counts)
    return keys, [counts[k] for k in keys]


def nearest_rank(q: float, n: int) -> int:
    """1-based rank of the q-quantile among n values, as PostgreSQL's percentile_disc computes it."""
    return max(1, math.ceil(q * n))


def sketch_quantile(keys: Sequence[int], counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of a sketch, or None when it is empty."""
    total = sum(counts)
    if total == 0:
        return None
    rank = nearest_rank(q, total)
    running = 0
    for key, count in zip(keys, counts, strict=True):
        running += count
        if running >= rank:
            return key_value(key)
    return key_value(keys[-1])
