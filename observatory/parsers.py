"""The JSON parser of every DRF endpoint that takes a JSON body (the ingest doors read theirs
themselves, with the same library).

orjson, not the standard library: a body nested a thousand levels deep made `json.loads` raise
RecursionError, a 500 on every such endpoint, where orjson refuses nesting past 1,024 levels
with a parse error (a 400). It also rejects NaN and Infinity, as DRF's strict parser did.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
