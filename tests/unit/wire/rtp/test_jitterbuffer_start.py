"""Where a reordered stream starts: the announced first sequence number (RTP-Info seq)."""

from __future__ import annotations

from wire.rtp import JitterBuffer, RtpPacket


def pkt(seq: int) -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, 0, 1, payload=seq.to_bytes(4, "big", signed=True))


def seqs(packets: list[RtpPacket]) -> list[int]:
    return [p.sequence_number for p in packets]


def test_packets_sent_before_the_first_to_arrive_are_waited_for_not_dropped() -> None:
    buffer = JitterBuffer()
    buffer.expect(100)
    assert buffer.push(pkt(102)) == []
    assert buffer.has_gap
    assert buffer.push(pkt(101)) == []
    assert seqs(buffer.push(pkt(100))) == [100, 101, 102]
    assert not buffer.has_gap
    assert (buffer.skipped, buffer.dropped) == (0, 0)


def test_the_announced_first_packet_in_order_passes_straight_through() -> None:
    buffer = JitterBuffer()
    buffer.expect(100)
    assert [seqs(buffer.push(pkt(s))) for s in (100, 101, 102)] == [[100], [101], [102]]
    assert not buffer.has_gap


def test_a_lost_first_packet_is_a_gap_like_any_other() -> None:
    buffer = JitterBuffer()
    buffer.expect(100)
    assert buffer.push(pkt(101)) == []
    assert buffer.push(pkt(102)) == []
    assert seqs(buffer.skip_gap()) == [101, 102]
    assert buffer.skipped == 1


def test_the_announced_start_is_read_across_the_sequence_wrap() -> None:
    buffer = JitterBuffer()
    buffer.expect(65534)
    assert buffer.push(pkt(1)) == []
    assert buffer.push(pkt(65535)) == []
    assert buffer.push(pkt(0)) == []
    assert seqs(buffer.push(pkt(65534))) == [65534, 65535, 0, 1]


def test_an_announcement_the_packets_contradict_is_ignored() -> None:
    behind = JitterBuffer(capacity=16)
    behind.expect(1000)  # the first packet comes before the announced start
    assert seqs(behind.push(pkt(990))) == [990]
    far = JitterBuffer(capacity=16)
    far.expect(1000)  # or further after it than the buffer holds
    assert seqs(far.push(pkt(1016))) == [1016]
    assert not far.has_gap


def test_an_announcement_after_the_first_packet_changes_nothing() -> None:
    buffer = JitterBuffer()
    assert seqs(buffer.push(pkt(102))) == [102]
    buffer.expect(100)
    assert buffer.push(pkt(100)) == []
    assert buffer.dropped == 1
