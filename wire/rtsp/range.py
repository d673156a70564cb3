"""The ``Range`` header (RFC 2326 §12.29, §3.5-3.7).

``npt`` ranges carry seconds (``npt=0.000-``, ``npt=now-``, ``npt=10-20.5``; RFC 7826 adds the
open start ``npt=-20``) and are held as :class:`~decimal.Decimal` so that ``0.000000`` writes back
unchanged; ``clock`` ranges carry UTC instants; SMPTE ranges are kept as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from wire.digits import fits_decimal, shown_digits
from wire.rtsp.errors import RemoteProtocolError

UNIT_NPT = "npt"
UNIT_CLOCK = "clock"
SMPTE_UNITS = ("smpte", "smpte-30-drop", "smpte-25")
NPT_NOW = "now"

_NPT_SEC_RE = re.compile(r"(\d+)(?:\.\d*)?")
_NPT_HHMMSS_RE = re.compile(r"(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)")
MAX_NPT_SECONDS = (2**63 - 1) // 1_000_000
"""The latest npt time read: what FFmpeg's int64 microseconds hold (292,000 years). RFC 2326
puts no bound on ``npt-sec = 1*DIGIT``; a longer one is refused before it is converted."""
_UTC_RE = re.compile(r"(\d{8})T(\d{6})(?:\.(\d+))?Z")
_SMPTE_RE = re.compile(r"\d+:\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?")

RangeTime = Decimal | datetime | str


def _parse_npt(text: str) -> Decimal | str:
    if text == NPT_NOW:
        return NPT_NOW
    seconds: Decimal | None = None
    if match := _NPT_SEC_RE.fullmatch(text):
        if fits_decimal(match[1], MAX_NPT_SECONDS):
            seconds = Decimal(text)
    elif match := _NPT_HHMMSS_RE.fullmatch(text):
        hours, minutes, rest = match.groups()
        if fits_decimal(hours, MAX_NPT_SECONDS // 3600):
            seconds = Decimal(hours) * 3600 + Decimal(minutes) * 60 + Decimal(rest)
    if seconds is None or seconds >= MAX_NPT_SECONDS + 1:
        raise RemoteProtocolError(f"Range: invalid npt time {shown_digits(text)}")
    return seconds


def _parse_utc(text: str) -> datetime:
    match = _UTC_RE.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"Range: invalid UTC time {text!r}")
    date, time, fraction = match.groups()
    try:
        instant = datetime.strptime(date + time, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise RemoteProtocolError(f"Range: invalid UTC time {text!r}") from None
    if fraction:
        instant = instant.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return instant


def _format_utc(instant: datetime) -> str:
    text = instant.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    if instant.microsecond:
        text += f".{instant.microsecond:06d}".rstrip("0")
    return text + "Z"


def _format_time(value: RangeTime) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _format_utc(value)
    return value


@dataclass(frozen=True)
class Range:
    """A time range: ``unit``, ``start``/``end`` (None when open) and the optional ``time=``."""

    unit: str
    start: RangeTime | None
    end: RangeTime | None = None
    time: datetime | None = None

    @classmethod
    def npt(cls, start: Decimal | int | str | None = 0, end: Decimal | int | None = None) -> Range:
        """An npt range; ``start`` may be ``"now"``."""
        begin = start if start is None or start == NPT_NOW else Decimal(start)
        return cls(UNIT_NPT, begin, None if end is None else Decimal(end))

    @property
    def start_seconds(self) -> Decimal | None:
        """The npt start in seconds, None for ``now``, an open start or another unit."""
        return self.start if isinstance(self.start, Decimal) else None

    @classmethod
    def parse(cls, value: str) -> Range:
        spec, *params = (part.strip() for part in value.split(";"))
        unit, equals, bounds = (s.strip() for s in spec.partition("="))
        first, dash, last = (s.strip() for s in bounds.partition("-"))
        if not equals or not dash:
            raise RemoteProtocolError(f"Range: expected unit=start-end, got {value!r}")
        unit = unit.lower()
        start: RangeTime | None
        end: RangeTime | None
        if unit == UNIT_NPT:
            start = _parse_npt(first) if first else None
            end = _parse_npt(last) if last else None
            if end == NPT_NOW:
                raise RemoteProtocolError(f"Range: 'now' cannot end a range in {value!r}")
        elif unit == UNIT_CLOCK:
            start = _parse_utc(first) if first else None
            end = _parse_utc(last) if last else None
        elif unit in SMPTE_UNITS:
            for text in (first, last):
                if text and not _SMPTE_RE.fullmatch(text):
                    raise RemoteProtocolError(f"Range: invalid SMPTE time {text!r}")
            start, end = first or None, last or None
        else:
            raise RemoteProtocolError(f"Range: unknown unit {unit!r}")
        if start is None and end is None:
            raise RemoteProtocolError(f"Range: neither start nor end in {value!r}")
        time = None
        for param in params:
            name, _, raw = (s.strip() for s in param.partition("="))
            if name.lower() == "time":
                time = _parse_utc(raw)
        return cls(unit, start, end, time)

    def serialize(self) -> str:
        start = "" if self.start is None else _format_time(self.start)
        end = "" if self.end is None else _format_time(self.end)
        text = f"{self.unit}={start}-{end}"
        if self.time is not None:
            text += f";time={_format_utc(self.time)}"
        return text
