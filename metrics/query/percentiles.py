"""Sketch percentiles of many answer rows at once (see metrics.sketch for the sketch itself).

The SQL sends each answer row's concatenated sketch keys and counts as array_send() bytes
(PostgreSQL's binary array format) without their header; they are decoded straight into numpy
arrays, without a Python object per element, and every row's quantiles are found in one
vectorised pass.
"""

import numpy as np

from metrics.sketch import GAMMA, ZERO_KEY

# array_send() of a one-dimensional array: ndim, flags, element type, then length and lower
# bound of the dimension (5 × int4), followed by (int4 length, value) per element. (An empty
# array is 12 bytes: ndim 0, flags, element type.)
_HEADER_BYTES = 20
KEY_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i4")])
COUNT_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


def elements_sql(array: str) -> str:
    """SQL: an integer array's array_send() bytes without the header, i.e. its elements only.

    PostgreSQL cuts the header off in one copy; cutting it off in Python cost a copy of each
    row's bytes (~4 ms of an answer of 6,700 sketches)."""
    return f"substring(array_send({array}) from {_HEADER_BYTES + 1})"


def decode_arrays(encoded: list[bytes | None], element: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """elements_sql() bytes of one integer array per row → (elements per row, all elements in row order).

    NULL (no sketch for the row) and empty arrays (no bytes) give no elements.
    """
    payloads = [item or b"" for item in encoded]
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads)) // element.itemsize
    values = np.frombuffer(b"".join(payloads), dtype=element)["value"].astype(np.int64)
    return lengths, values


def batch_quantiles(
    lengths: np.ndarray, keys: np.ndarray, counts: np.ndarray, quantiles: list[float]
) -> list[tuple[float | None, ...]]:
    """The quantiles of many concatenated sketches at once (`lengths[i]` elements belong to row i).

    Elements are put in (row, key) order (unless they already are); a running count over
    everything, minus each row's count before it, gives each row's ranks, found with one
    binary search per quantile.
    """
    none = (None,) * len(quantiles)
    if not lengths.sum():
        return [none] * len(lengths)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    # One int64 sort key: the row in the high bits, the key (ZERO_KEY = -100000 and up) above zero below.
    order_key = (rows << 32) | (keys + 2**31)
    # When each row is one stored sketch (already in key order) there is nothing to sort: checking
    # takes one pass, the sort took most of the time of an answer of 330,000 elements.
    if not np.all(order_key[1:] >= order_key[:-1]):
        order = np.argsort(order_key, kind="stable")
        keys, counts = keys[order], counts[order]
    running = np.cumsum(counts)
    ends = np.cumsum(lengths)  # one past each row's last element
    before = np.where(ends - lengths > 0, running[np.maximum(ends - lengths - 1, 0)], 0)
    totals = np.where(lengths > 0, running[np.maximum(ends - 1, 0)] - before, 0)
    values = np.empty((len(lengths), len(quantiles)), dtype=np.float64)
    for column, q in enumerate(quantiles):
        # nearest_rank(q, n) = max(1, ceil(q * n)) in float64, exactly as metrics.sketch computes it
        ranks = np.maximum(1, np.ceil(q * totals.astype(np.float64))).astype(np.int64)
        found = np.searchsorted(running, before + ranks, side="left")
        chosen = keys[np.minimum(found, len(keys) - 1)]
        values[:, column] = np.where(chosen == ZERO_KEY, 0.0, 2.0 * GAMMA ** chosen.astype(np.float64) / (GAMMA + 1.0))
    present = lengths > 0
    answers: list[tuple[float | None, ...]] = list(map(tuple, values.tolist()))
    if not present.all():
        answers = [answer if has else none for answer, has in zip(answers, present.tolist(), strict=True)]
    return answers
