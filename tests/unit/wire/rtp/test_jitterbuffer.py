from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtp import JitterBuffer, RtpPacket


def pkt(seq: int) -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, 0, 1, payload=seq.to_bytes(4, "big", signed=True))


def seqs(packets: list[RtpPacket]) -> list[int]:
    return [p.sequence_number for p in packets]


def test_in_order_packets_pass_straight_through():
    buffer = JitterBuffer(capacity=4)
    assert [seqs(buffer.push(pkt(s))) for s in (10, 11, 12)] == [[10], [11], [12]]
    assert len(buffer) == 0
    assert not buffer.has_gap


def test_reordered_packets_come_out_in_order():
    buffer = JitterBuffer(capacity=4)
    assert seqs(buffer.push(pkt(10))) == [10]
    assert seqs(buffer.push(pkt(12))) == []
    assert seqs(buffer.push(pkt(13))) == []
    assert buffer.has_gap
    assert len(buffer) == 2
    assert seqs(buffer.push(pkt(11))) == [11, 12, 13]
    assert (buffer.skipped, buffer.dropped) == (0, 0)


def test_duplicates_and_late_packets_are_dropped():
    buffer = JitterBuffer(capacity=4)
    buffer.push(pkt(10))
    buffer.push(pkt(12))
    assert buffer.push(pkt(12)) == []  # duplicate of a held packet
    assert buffer.push(pkt(10)) == []  # already released
    assert buffer.push(pkt(9)) == []  # late
    assert buffer.dropped == 3


def test_full_buffer_skips_the_gap():
    buffer = JitterBuffer(capacity=2)
    buffer.push(pkt(1))
    assert buffer.push(pkt(3)) == []
    assert buffer.push(pkt(4)) == []
    assert seqs(buffer.push(pkt(6))) == [3, 4]
    assert buffer.skipped == 1
    assert seqs(buffer.push(pkt(5))) == [5, 6]
    assert seqs(buffer.push(pkt(2))) == []  # too late now


def test_skip_gap_when_the_callers_deadline_passes():
    buffer = JitterBuffer()
    buffer.push(pkt(100))
    buffer.push(pkt(103))
    buffer.push(pkt(104))
    buffer.push(pkt(106))
    assert seqs(buffer.skip_gap()) == [103, 104]
    assert buffer.skipped == 2
    assert seqs(buffer.skip_gap()) == [106]
    assert buffer.skip_gap() == []
    assert buffer.skipped == 3


def test_flush_returns_everything_in_order():
    buffer = JitterBuffer()
    buffer.push(pkt(1))
    for seq in (9, 5, 7, 6):
        buffer.push(pkt(seq))
    assert seqs(buffer.flush()) == [5, 6, 7, 9]
    assert buffer.skipped == 4


def test_reordering_across_the_sequence_wrap():
    buffer = JitterBuffer()
    buffer.push(pkt(65534))
    assert buffer.push(pkt(0)) == []
    assert seqs(buffer.push(pkt(65535))) == [65535, 0]
    assert seqs(buffer.push(pkt(1))) == [1]


def test_single_stray_of_an_old_session_is_dropped():
    buffer = JitterBuffer()
    buffer.push(pkt(1000))
    assert buffer.push(pkt(40000)) == []
    assert seqs(buffer.push(pkt(1001))) == [1001]
    assert buffer.push(pkt(40002)) == []
    assert seqs(buffer.push(pkt(1002))) == [1002]
    assert buffer.dropped == 2


def test_two_sequential_packets_far_away_restart_the_buffer():
    buffer = JitterBuffer()
    buffer.push(pkt(1000))
    buffer.push(pkt(1002))
    assert buffer.push(pkt(40000)) == []
    assert seqs(buffer.push(pkt(40001))) == [1002, 40000, 40001]
    assert seqs(buffer.push(pkt(40002))) == [40002]
    assert buffer.dropped == 0


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        JitterBuffer(capacity=0)


@settings(max_examples=200)
@given(st.integers(0, 0xFFFF), st.permutations(list(range(40))))
def test_any_order_within_capacity_comes_out_sorted_and_complete(start, order):
    buffer = JitterBuffer(capacity=64)
    out = buffer.push(pkt(start))
    for offset in order:
        out += buffer.push(pkt(start + 1 + offset))
    out += buffer.flush()
    assert seqs(out) == [(start + i) & 0xFFFF for i in range(41)]
    assert buffer.skipped == 0


@settings(max_examples=200)
@given(st.lists(st.integers(0, 99), max_size=80), st.integers(1, 16))
def test_output_is_always_increasing_without_duplicates(offsets, capacity):
    # Within MAX_MISORDER of each other no packet is a stray, so nothing restarts the order.
    buffer = JitterBuffer(capacity=capacity)
    out = []
    for offset in offsets:
        out += buffer.push(pkt(offset))
        assert len(buffer) <= capacity
    out += buffer.flush()
    values = seqs(out)
    assert values == sorted(set(values))
