"""PostgreSQL's text and jsonb cannot hold the NUL character (U+0000), which JSON and protobuf
strings may carry. Every string the service stores or compares has it replaced by U+FFFD, the
Unicode replacement character: a span is stored rather than refused over one character, and a
filter value written as it was sent finds the spans stored from it.
"""

from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"
# How orjson writes a NUL inside a string. The same bytes can also end an escaped backslash
# followed by "u0000": `storable_json_value` then finds nothing to replace, which costs only time.
NUL_IN_JSON = b"\\u0000"


def storable(text: str) -> str:
    return text.replace(NUL, REPLACEMENT)


def any_nul(texts: list[Any]) -> bool:
    """Whether a column of strings and Nones holds a NUL (one scan in C, not one per value)."""
    return NUL in "".join(filter(None, texts))


def storable_json_value(value: Any) -> Any:
    """A decoded JSON value (dicts, lists, scalars) with NUL replaced in every string, keys included."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json_value(key): storable_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json_value(item) for item in value]
    return value
