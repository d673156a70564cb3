"""The array form of RFC 3550's statistics gives the reference code's figures."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsim.pcap.rtpstats import receiver_figures, sequence_figures
from wire.rtp.stats import ReceiverStatistics

CLOCK = 90000


def _reference(
    sequence: list[int], timestamps: list[int], arrivals: list[float]
) -> tuple[int, int, list[float]]:
    stats = ReceiverStatistics(0, min_sequential=0)
    jitter = []
    for seq, timestamp, arrival in zip(sequence, timestamps, arrivals, strict=True):
        stats.update(seq, timestamp, arrival * CLOCK)
        jitter.append(stats.jitter)
    return stats.expected, stats.lost, jitter


def _arrays(
    sequence: list[int], timestamps: list[int], arrivals: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array(sequence, dtype=np.uint16),
        np.array(timestamps, dtype=np.uint32),
        np.array(arrivals, dtype=np.float64),
    )


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[int], list[int], list[float]]:
    """A stream sent in order from any starting point (wrapping included), then lost,
    duplicated, reordered, delayed and (sometimes) restarted far away."""
    count = draw(st.integers(min_value=1, max_value=600))
    start = draw(st.integers(min_value=0, max_value=0xFFFF))
    base_ts = draw(st.integers(min_value=0, max_value=0xFFFFFFFF))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    sent = [((start + i) & 0xFFFF, (base_ts + i * 3000) & 0xFFFFFFFF, i / 30) for i in range(count)]
    packets = [p for p in sent if rng.random() > draw(st.sampled_from([0.0, 0.05, 0.3]))]
    if not packets:
        packets = sent[:1]
    for _ in range(draw(st.integers(min_value=0, max_value=10))):
        i = rng.randrange(len(packets))
        packets.insert(
            min(len(packets), i + rng.randint(1, 150)), packets[i]
        )  # duplicates, far too
    for _ in range(draw(st.integers(min_value=0, max_value=10))):
        if len(packets) > 2:
            i = rng.randrange(len(packets) - 1)
            packets[i], packets[i + 1] = packets[i + 1], packets[i]
    if draw(st.booleans()):
        i = rng.randrange(len(packets))
        packets[i:] = [((s + 20000) & 0xFFFF, t, a) for s, t, a in packets[i:]]  # a restart
    jittered = [(s, t, a + rng.uniform(0, 0.02)) for s, t, a in packets]
    return [p[0] for p in jittered], [p[1] for p in jittered], [p[2] for p in jittered]


@settings(max_examples=300, deadline=None)
@given(stream=streams())
def test_expected_lost_and_jitter_match_the_reference_code(
    stream: tuple[list[int], list[int], list[float]],
) -> None:
    sequence, timestamps, arrivals = stream
    expected, lost, jitter = _reference(sequence, timestamps, arrivals)
    figures, computed = receiver_figures(*_arrays(sequence, timestamps, arrivals), CLOCK)
    assert (figures.expected, figures.lost) == (expected, lost)
    assert computed.values.tolist() == pytest.approx(jitter, rel=1e-9, abs=1e-6)
    assert computed.final == pytest.approx(jitter[-1], rel=1e-9, abs=1e-6)
    assert computed.maximum == pytest.approx(max(jitter), rel=1e-9, abs=1e-6)


def test_loss_duplicates_and_reordering() -> None:
    # 10 11 _ 13 14 15 then 12 late, 14 again, 17 (16 lost), 18
    figures = sequence_figures(np.array([10, 11, 13, 14, 15, 12, 14, 17, 18], dtype=np.uint16))
    assert (figures.missing, figures.duplicated, figures.reordered) == (1, 1, 1)
    assert figures.loss_runs == [(16, 1, 7)]  # seen when 17 (index 7) arrived
    assert figures.first_sequence == 10


def test_a_gap_below_the_first_packet_shows_when_the_late_packet_arrives() -> None:
    figures = sequence_figures(np.array([100, 101, 97, 102], dtype=np.uint16))
    assert figures.loss_runs == [(98, 2, 2)]
    assert (figures.missing, figures.reordered, figures.first_sequence) == (2, 1, 97)


def test_wrap_around_and_a_jump() -> None:
    figures = sequence_figures(np.array([65534, 65535, 0, 2, 30000, 30001], dtype=np.uint16))
    assert figures.missing == 1
    assert figures.loss_runs == [(1, 1, 3)]
    assert figures.jumps == [(4, 2, 30000)]
