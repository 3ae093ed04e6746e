"""An ingest batch's text and bigint columns in PostgreSQL's binary array format, built in C loops.

psycopg sends a list as an array by dumping its elements one at a time in Python
(psycopg.types.array.ListBinaryDumper): ~190 ns an element on the fifteenth round's VM, ~4.5
µs a span for the 26 columns of an ingest batch, where a span may cost ~100 µs in all at
20,000 spans/s. A column here is a list that knows its element type, and its dumper writes the
same bytes (array_recv's format: a header, then each element's length and bytes) with
`struct.pack`, slice assignment and `join`, whose loops run in C: ~90 ns a short text, ~35 a
bigint. Columns with NULLs take a comprehension, still without psycopg's calls.

`register(cursor)` makes a cursor send them this way; elsewhere they are plain lists.
"""

import struct
from typing import Any

from psycopg.adapt import Dumper
from psycopg.pq import Format

# PostgreSQL's type oids (pg_type.h), element and array.
TEXT_OID, TEXT_ARRAY_OID = 25, 1009
INT8_OID, INT8_ARRAY_OID = 20, 1016

_ONE_DIMENSION = struct.Struct(">iiIii")  # ndim 1, has nulls, element oid, length, lower bound 1
_NO_DIMENSION = struct.Struct(">iiI")  # an empty array: ndim 0, no nulls, element oid
_LENGTH = struct.Struct(">i").pack
_INT8_ELEMENT = struct.Struct(">iq").pack  # an 8-byte element: its length, then its value
_NULL = _LENGTH(-1)
# A length under 128 as four characters that are ASCII themselves.
_ASCII_LENGTHS = [_LENGTH(n).decode("ascii") for n in range(128)]


class TextColumn(list[str | None]):
    """A text[] column."""


class BigintColumn(list[int | None]):
    """A bigint[] column."""


def _array(element_oid: int, values: list[Any], elements: bytes, has_null: bool) -> bytes:
    if not values:
        return _NO_DIMENSION.pack(0, 0, element_oid)
    return _ONE_DIMENSION.pack(1, has_null, element_oid, len(values), 1) + elements


def _interleaved(lengths: Any, data: list[Any], empty: Any) -> list[Any]:
    """[length, datum, length, datum, …] built by slice assignment (no tuple or iterator per element)."""
    parts = [empty] * (2 * len(data))
    parts[::2] = lengths
    parts[1::2] = data
    return parts


def text_array(values: list[str | None]) -> bytes:
    if None in values:
        elements = b"".join([_NULL if v is None else _LENGTH(len(b := v.encode())) + b for v in values])
        return _array(TEXT_OID, values, elements, True)
    strings: list[str] = values  # type: ignore[assignment]
    lengths = list(map(len, strings))
    if max(lengths, default=0) < len(_ASCII_LENGTHS):
        # Short strings: the column is written as one str, and when all of it is ASCII (ids,
        # names, models), that is its UTF-8 too: encoded once, not element by element.
        whole = "".join(_interleaved(map(_ASCII_LENGTHS.__getitem__, lengths), strings, ""))
        if whole.isascii():
            return _array(TEXT_OID, values, whole.encode("ascii"), False)
    encoded = list(map(str.encode, strings))
    return _array(TEXT_OID, values, b"".join(_interleaved(map(_LENGTH, map(len, encoded)), encoded, b"")), False)


def bigint_array(values: list[int | None]) -> bytes:
    if None in values:
        elements = b"".join([_NULL if v is None else _INT8_ELEMENT(8, v) for v in values])
        return _array(INT8_OID, values, elements, True)
    # One pack of the whole column (struct caches the compiled format of a batch size).
    elements = struct.pack(">" + "iq" * len(values), *_interleaved([8] * len(values), values, 8))
    return _array(INT8_OID, values, elements, False)


class _TextColumnDumper(Dumper):
    format = Format.BINARY
    oid = TEXT_ARRAY_OID

    def dump(self, obj: Any) -> bytes:
        return text_array(obj)


class _BigintColumnDumper(Dumper):
    format = Format.BINARY
    oid = INT8_ARRAY_OID

    def dump(self, obj: Any) -> bytes:
        return bigint_array(obj)


def register(cursor: Any) -> None:
    """Makes `cursor` send the columns with these dumpers (its other adaptations are unchanged)."""
    cursor.adapters.register_dumper(TextColumn, _TextColumnDumper)
    cursor.adapters.register_dumper(BigintColumn, _BigintColumnDumper)
