"""NTP timestamps as carried in RTCP (RFC 3550 §4): 64-bit fixed point seconds since 1900."""

from __future__ import annotations

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_FRACTION = 1 << 32


def ntp_from_unix(seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time in seconds."""
    return round((seconds + NTP_UNIX_OFFSET) * _FRACTION) & 0xFFFF_FFFF_FFFF_FFFF


def unix_from_ntp(ntp: int) -> float:
    """The Unix time in seconds of a 64-bit NTP timestamp."""
    return ntp / _FRACTION - NTP_UNIX_OFFSET


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp: the LSR field of a report block."""
    return (ntp >> 16) & 0xFFFF_FFFF


def seconds_to_ntp_short(seconds: float) -> int:
    """A duration in units of 1/65536 s: the DLSR field of a report block (§6.4.1)."""
    return max(0, min(round(seconds * 65536), 0xFFFF_FFFF))


def ntp_short_to_seconds(value: int) -> float:
    """The duration in seconds of a 32-bit 16.16 value such as DLSR."""
    return value / 65536
