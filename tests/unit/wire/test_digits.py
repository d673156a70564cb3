"""Decimal numbers from the network are compared with their bound as text, never converted
first: more than 4300 digits would make ``int()`` raise a bare ``ValueError``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire.digits import UINT32_MAX, bounded_decimal, fits_decimal, is_digits, shown_digits

HUGE = "9" * 5000  # past CPython's 4300-digit conversion limit


@pytest.mark.parametrize(
    ("text", "maximum", "expected"),
    [
        ("0", 0, 0),
        ("65535", 0xFFFF, 0xFFFF),
        ("65536", 0xFFFF, None),
        ("0000000000000000000000065535", 0xFFFF, 0xFFFF),
        ("99999", 0xFFFF, None),
        ("4294967295", UINT32_MAX, UINT32_MAX),
        ("4294967296", UINT32_MAX, None),
        ("", 10, None),
        ("-1", 10, None),
        ("+1", 10, None),
        (" 1", 10, None),
        ("1.0", 10, None),
        ("²", 10, None),  # str.isdigit() says yes
        ("\u0661", 10, None),  # ARABIC-INDIC DIGIT ONE: int() would read it
        (HUGE, UINT32_MAX, None),
        ("0" * 5000 + "7", 10, 7),
    ],
)
def test_bounded_decimal(text: str, maximum: int, expected: int | None) -> None:
    assert bounded_decimal(text, maximum) == expected
    assert fits_decimal(text, maximum) is (expected is not None)


@given(st.integers(0, 10**30), st.integers(0, 10**30))
def test_the_text_comparison_agrees_with_the_numbers(value: int, maximum: int) -> None:
    assert bounded_decimal(str(value), maximum) == (value if value <= maximum else None)


def test_is_digits_and_shown_digits() -> None:
    assert is_digits("0123")
    assert not is_digits("")
    assert not is_digits("1a")
    assert shown_digits("12") == "'12'"
    assert shown_digits(HUGE) == f"{HUGE[:24]!r}... (5000 characters)"
