"""The JSON writer: exact decimals (money keeps every digit), compact, UTF-8, same bytes as the stdlib."""

import json
from decimal import Decimal

import pytest

from metrics.api.renderers import exact_json


def test_decimals_are_written_with_every_digit() -> None:
    payload = {"cost": Decimal("12345678901.0123456789"), "tiny": Decimal("1E-10"), "zero": Decimal("0E-10")}
    body = exact_json(payload)
    assert body == b'{"cost":12345678901.0123456789,"tiny":1E-10,"zero":0E-10}'
    # Parsed back as decimals, nothing was rounded through float on the way.
    assert json.loads(body, parse_float=Decimal) == payload


def test_matches_the_standard_library_for_everything_else() -> None:
    payload = {"model": "gpt-4o", "user": "ünïcødé", "p95": 1834.5, "count": 3, "missing": None, "rows": [True, []]}
    assert exact_json(payload) == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), object()])
def test_refuses_what_json_cannot_hold(value: object) -> None:
    with pytest.raises(TypeError):
        exact_json({"value": value})
