"""RFC 3550 A.1/A.3/A.8 on scripted sequences, checked against hand computation."""

from __future__ import annotations

import pytest

from wire.rtp import ReceiverStatistics, RtcpSenderReport


def feed(stats: ReceiverStatistics, seqs: list[int]) -> list[bool]:
    return [stats.update(seq, 0, 0) for seq in seqs]


def test_probation_then_in_order_packets():
    stats = ReceiverStatistics(7)
    assert stats.report_block(0.0) is None
    assert feed(stats, [100, 101]) == [False, True]
    assert stats.valid
    assert feed(stats, list(range(102, 111))) == [True] * 9
    assert (stats.base_seq, stats.extended_max_sequence) == (101, 110)
    assert (stats.expected, stats.received, stats.lost) == (10, 10, 0)


def test_probation_restarts_on_a_sequence_break():
    stats = ReceiverStatistics(7)
    assert feed(stats, [100, 102, 103, 104]) == [False, False, True, True]
    assert (stats.base_seq, stats.received) == (103, 2)


def test_min_sequential_zero_accepts_the_first_packet():
    stats = ReceiverStatistics(7, min_sequential=0)
    assert feed(stats, [500, 501]) == [True, True]
    assert (stats.base_seq, stats.expected, stats.received) == (500, 2, 2)


def test_loss_and_fraction_lost_per_interval():
    stats = ReceiverStatistics(7)
    feed(stats, list(range(100, 111)))
    first = stats.report_block(0.0)
    assert first is not None
    assert (first.fraction_lost, first.packets_lost, first.highest_sequence) == (0, 0, 110)

    feed(stats, [111, 112, *range(115, 121)])  # 113 and 114 lost
    second = stats.report_block(0.0)
    assert second is not None
    # expected_interval 10, received_interval 8: (2 << 8) // 10
    assert (second.fraction_lost, second.packets_lost, second.highest_sequence) == (51, 2, 120)

    third = stats.report_block(0.0)
    assert third is not None
    assert (third.fraction_lost, third.packets_lost) == (0, 2)


def test_duplicates_make_cumulative_loss_negative_and_fraction_zero():
    stats = ReceiverStatistics(7)
    feed(stats, list(range(100, 106)))
    feed(stats, [105, 105, 105])
    assert (stats.expected, stats.received, stats.lost) == (5, 8, -3)
    block = stats.report_block(0.0)
    assert block is not None
    assert (block.fraction_lost, block.packets_lost) == (0, -3)


def test_sequence_wrap_counts_a_cycle():
    stats = ReceiverStatistics(7)
    feed(stats, [65533, 65534, 65535, 0, 1])
    assert stats.cycles == 65536
    assert stats.extended_max_sequence == 65537
    assert (stats.expected, stats.received, stats.lost) == (4, 4, 0)
    block = stats.report_block(0.0)
    assert block is not None
    assert block.highest_sequence == 0x1_0001


def test_reordered_packet_is_received_without_moving_the_maximum():
    stats = ReceiverStatistics(7)
    assert feed(stats, [10, 11, 12, 14, 13]) == [False, True, True, True, True]
    assert stats.max_seq == 14
    assert (stats.expected, stats.received, stats.lost) == (4, 4, 0)


def test_packets_of_an_old_session_are_rejected():
    stats = ReceiverStatistics(7)
    feed(stats, [999, 1000, 1001])
    # Strays of a previous session, never two in sequence, interleaved with the live stream.
    assert feed(stats, [5000, 1002, 5037, 1003, 41000]) == [False, True, False, True, False]
    assert (stats.base_seq, stats.max_seq, stats.received, stats.lost) == (1000, 1003, 4, 0)


def test_two_sequential_packets_after_a_large_jump_resynchronise():
    stats = ReceiverStatistics(7)
    feed(stats, [999, 1000, 1001])
    assert feed(stats, [30000, 30001, 30002]) == [False, True, True]
    assert (stats.base_seq, stats.max_seq, stats.received) == (30001, 30002, 2)
    assert stats.lost == 0


def test_a_jump_just_under_max_dropout_is_loss_not_a_restart():
    stats = ReceiverStatistics(7)
    feed(stats, [0, 1])
    assert feed(stats, [1 + 2999]) == [True]
    assert stats.lost == 2998


def test_interarrival_jitter_matches_hand_computation():
    stats = ReceiverStatistics(7, min_sequential=0)
    # transit = arrival - timestamp: 1000, 1000, 1100, 950 -> |D| = 0, 100, 150
    for timestamp, arrival in [(0, 1000), (3000, 4000), (6000, 7100), (9000, 9950)]:
        stats.update(timestamp // 3000, timestamp, arrival)
    # J = 0; J += (100 - J) / 16 = 6.25; J += (150 - 6.25) / 16 = 15.234375
    assert stats.jitter == pytest.approx(15.234375)
    block = stats.report_block(0.0)
    assert block is not None
    assert block.jitter == 15


def test_jitter_survives_timestamp_wrap():
    stats = ReceiverStatistics(7, min_sequential=0)
    stats.update(1, 0xFFFFF000, 0)
    stats.update(2, 0x00000B80, 7040 + 50)  # 7040 ticks later on the wire, 50 late
    assert stats.jitter == pytest.approx(50 / 16)


def test_lsr_and_dlsr_from_the_last_sender_report():
    stats = ReceiverStatistics(7)
    feed(stats, [1, 2])
    sr = RtcpSenderReport(7, 0x11223344_55667788, rtp_timestamp=0, packet_count=0, octet_count=0)
    stats.on_sender_report(sr, now=10.0)
    block = stats.report_block(now=12.5)
    assert block is not None
    assert (block.ssrc, block.lsr, block.dlsr) == (7, 0x33445566, 163840)


def test_no_sender_report_gives_zero_lsr_and_dlsr():
    stats = ReceiverStatistics(7)
    feed(stats, [1, 2])
    block = stats.report_block(now=5.0)
    assert block is not None
    assert (block.lsr, block.dlsr) == (0, 0)
