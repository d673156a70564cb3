from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire.rtp import (
    TimestampUnwrapper,
    ntp_from_unix,
    ntp_middle32,
    ntp_short_to_seconds,
    seconds_to_ntp_short,
    seq_add,
    seq_diff,
    seq_lt,
    timestamp_diff,
    unix_from_ntp,
)


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [
        (5, 3, 2),
        (0, 65535, 1),
        (65535, 0, -1),
        (0x8000, 0, -0x8000),
        (0x7FFF, 0, 0x7FFF),
        (9, 9, 0),
    ],
)
def test_seq_diff(a, b, diff):
    assert seq_diff(a, b) == diff
    assert seq_lt(a, b) is (diff < 0)


def test_seq_add_wraps():
    assert seq_add(65535, 2) == 1
    assert seq_add(0, -1) == 65535


@given(st.integers(0, 0xFFFF), st.integers(-0x8000, 0x7FFF))
def test_seq_diff_inverts_seq_add(seq, delta):
    assert seq_diff(seq_add(seq, delta), seq) == delta


def test_timestamp_diff_is_signed_modulo_2_32():
    assert timestamp_diff(0x10, 0xFFFFFFF0) == 0x20
    assert timestamp_diff(0xFFFFFFF0, 0x10) == -0x20


def test_unwrapper_crosses_wrap_and_follows_jumps_either_way():
    unwrapper = TimestampUnwrapper()
    hour = 3600 * 90000
    assert unwrapper.unwrap(0xFFFFFF00) == 0xFFFFFF00
    assert unwrapper.unwrap(0x100) == 0x1_0000_0100
    assert unwrapper.unwrap((0x100 + hour) & 0xFFFFFFFF) == 0x1_0000_0100 + hour
    assert unwrapper.unwrap(0x100) == 0x1_0000_0100
    assert unwrapper.unwrap((0x100 - 2 * hour) & 0xFFFFFFFF) == 0x1_0000_0100 - 2 * hour
    unwrapper.reset()
    assert unwrapper.unwrap(42) == 42


def test_ntp_conversions():
    assert ntp_from_unix(0) == 2_208_988_800 << 32
    assert ntp_from_unix(1.5) == ((2_208_988_800 + 1) << 32) | 0x8000_0000
    assert unix_from_ntp(ntp_from_unix(1_700_000_000.25)) == 1_700_000_000.25
    assert ntp_middle32(0x11223344_55667788) == 0x33445566
    assert seconds_to_ntp_short(1.5) == 98304
    assert seconds_to_ntp_short(-1.0) == 0
    assert ntp_short_to_seconds(98304) == 1.5
