"""Decimal numbers in the text protocols (RTSP, SDP, HLS), read without trusting their length.

``1*DIGIT`` puts no limit on how many digits a peer sends. ``int()`` of a long run costs time
that grows faster than its length and raises a bare ``ValueError`` past 4300 digits (CPython's
integer string conversion limit), so checking ``isdigit()`` before converting is not enough: a
``Content-Length`` of 5000 nines would escape the parser as the wrong exception. Every number on
the wire has a largest meaningful value; the digits are compared with it as text, and only a
value within it is converted.
"""

from __future__ import annotations

UINT16_MAX = 0xFFFF
UINT32_MAX = 0xFFFF_FFFF
UINT64_MAX = 0xFFFF_FFFF_FFFF_FFFF


def is_digits(text: str) -> bool:
    """True for one or more ASCII digits and nothing else (``1*DIGIT``, RFC 5234 §B.1).

    ``str.isdigit`` alone also accepts superscripts and other scripts' digits.
    """
    return text.isascii() and text.isdigit()


def fits_decimal(text: str, maximum: int) -> bool:
    """True when ``text`` is ``1*DIGIT`` whose value is at most ``maximum`` (leading zeros are
    fine); decided on the text, without converting it."""
    if not is_digits(text):
        return False
    significant = text.lstrip("0")
    limit = str(maximum)
    if len(significant) != len(limit):
        return len(significant) < len(limit)
    return significant <= limit  # digit strings of one length compare as their numbers


def bounded_decimal(text: str, maximum: int) -> int | None:
    """The value of ``1*DIGIT`` text when it is at most ``maximum``, else None.

    None covers both "not a number" and "too large"; the caller's protocol decides what either
    means (an error, a default, a warning).
    """
    if not fits_decimal(text, maximum):
        return None
    return int(text.lstrip("0") or "0")  # leading zeros count against the conversion limit


def shown_digits(text: str, limit: int = 24) -> str:
    """``text`` for an error message: cut short, with its length, when it is long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
