"""RFC 3550 receiver statistics of a whole recorded stream at once, with numpy.

A receiver updates its statistics packet by packet (:class:`wire.rtp.ReceiverStatistics`
follows the RFC's reference code); a capture gives all the packets of a stream at once, and a
million of them through that loop take seconds. Here the same quantities are array operations:

- sequence numbers are extended to 64 bits by accumulating their signed 16-bit steps;
- RFC 3550 A.1/A.3 ``expected`` and ``lost`` are those of the reference code whenever no step
  would trip its MAX_DROPOUT/MAX_MISORDER rules; a stream where one does is handed to
  :class:`wire.rtp.ReceiverStatistics` itself, so the figures are always the RFC's;
- the A.8 interarrival jitter, J += (|D| - J)/16, is a first-order linear recurrence, computed a
  block of packets at a time from weighted cumulative sums;
- duplicates, reordering and the sequence numbers never received (with the packet that revealed
  each gap) come from sorting and running maxima.

Tests check every figure against the packet-by-packet reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wire.rtp.stats import MAX_DROPOUT, MAX_MISORDER, ReceiverStatistics

JITTER_BLOCK = 128
"""Packets per block of the jitter recurrence: (16/15)^128 stays far inside float64."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass
class SequenceFigures:
    """What the sequence numbers of one SSRC say."""

    expected: int
    lost: int
    """RFC 3550 A.3: expected minus received, duplicates counted as received."""
    missing: int
    duplicated: int
    reordered: int
    first_sequence: int
    """The lowest sequence number received."""
    loss_runs: list[tuple[int, int, int]] = field(default_factory=list)
    """(first missing sequence number, count, index of the packet that revealed the gap)."""
    jumps: list[tuple[int, int, int]] = field(default_factory=list)
    """(index, previous sequence number, new one) of each step of MAX_DROPOUT or more."""


def extend(sequence: npt.NDArray[np.uint16]) -> IntArray:
    """Sequence numbers as a 64-bit count: each step taken as the shortest way round."""
    values = sequence.astype(np.int64)
    steps = (np.diff(values) + 0x8000) % 0x10000 - 0x8000
    return np.concatenate(([values[0]], values[0] + np.cumsum(steps))) if len(values) else values


def receiver_figures(
    sequence: npt.NDArray[np.uint16],
    timestamps: npt.NDArray[np.uint32],
    arrivals: FloatArray,
    clock_rate: int,
) -> tuple[SequenceFigures, JitterFigures]:
    """Everything RFC 3550 and the capture say about one SSRC's packets in arrival order.

    ``expected``, ``lost`` and the jitter are the reference code's: computed here with arrays
    while its MAX_DROPOUT/MAX_MISORDER rules stay quiet, by :class:`ReceiverStatistics` itself
    when they would not.
    """
    figures = sequence_figures(sequence)
    extended = extend(sequence)
    if _within_reference_rules(extended):
        if len(extended):
            figures.expected = int(extended.max() - extended[0] + 1)
            figures.lost = figures.expected - len(sequence)
        return figures, interarrival_jitter(timestamps, arrivals, clock_rate)
    stats = ReceiverStatistics(0, min_sequential=0)
    values = np.empty(len(sequence))
    for index, (seq, timestamp, arrival) in enumerate(
        zip(sequence.tolist(), timestamps.tolist(), (arrivals * clock_rate).tolist(), strict=True)
    ):
        stats.update(seq, timestamp, arrival)
        values[index] = stats.jitter
    figures.expected, figures.lost = stats.expected, stats.lost
    jitter = JitterFigures(stats.jitter, float(values.max()), float(values.mean()), values)
    return figures, jitter


def sequence_figures(sequence: npt.NDArray[np.uint16]) -> SequenceFigures:
    """Loss, duplication and reordering of one SSRC's packets in arrival order (``expected``
    and ``lost`` are left to :func:`receiver_figures`)."""
    if len(sequence) == 0:
        return SequenceFigures(0, 0, 0, 0, 0, 0)
    extended = extend(sequence)
    steps = np.diff(extended)
    # A jump of MAX_DROPOUT or more starts the count over (a restarted sender); each part
    # between jumps is judged on its own and the parts are added up.
    cuts = (np.nonzero(np.abs(steps) >= MAX_DROPOUT)[0] + 1).tolist()
    figures = SequenceFigures(0, 0, 0, 0, 0, int(sequence[0]))
    lowest: int | None = None
    for start, end in zip([0, *cuts], [*cuts, len(extended)], strict=True):
        part = extended[start:end]
        _add_part(figures, part, start)
        if lowest is None or part.min() < lowest:
            lowest = int(part.min())
    figures.first_sequence = (lowest if lowest is not None else 0) & 0xFFFF
    figures.jumps = [(i, int(sequence[i - 1]), int(sequence[i])) for i in cuts]
    return figures


def _add_part(figures: SequenceFigures, part: IntArray, offset: int) -> None:
    unique, first_index = np.unique(part, return_index=True)
    figures.duplicated += len(part) - len(unique)
    running_max = np.maximum.accumulate(part)
    previous_max = np.concatenate(([part[0]], running_max[:-1]))
    first = np.zeros(len(part), dtype=bool)
    first[first_index] = True
    # A first arrival below the highest number seen so far came late: it was reordered.
    figures.reordered += int(np.count_nonzero(first & (part < previous_max)))
    gaps = np.diff(unique) - 1
    where = np.nonzero(gaps > 0)[0]
    figures.missing += int(gaps[where].sum())
    if len(where):
        # A gap shows once a number below it and a number above it have both arrived.
        running_min = np.minimum.accumulate(part)
        below = np.searchsorted(-running_min, -unique[where], side="left")
        above = np.searchsorted(running_max, unique[where + 1], side="left")
        for gap, seen in zip(where.tolist(), np.maximum(below, above).tolist(), strict=True):
            figures.loss_runs.append(
                ((int(unique[gap]) + 1) & 0xFFFF, int(gaps[gap]), offset + int(seen))
            )


def _within_reference_rules(extended: IntArray) -> bool:
    """True when no packet is more than MAX_MISORDER behind the highest number so far nor
    MAX_DROPOUT or more ahead of it: then the reference code counts every packet as received,
    expects every number from the first packet's to the highest, and updates the jitter on
    each packet."""
    if len(extended) < 2:
        return True
    running_max = np.maximum.accumulate(extended)
    relative = extended[1:] - running_max[:-1]
    return bool(np.all((relative > -MAX_MISORDER) & (relative < MAX_DROPOUT)))


@dataclass
class JitterFigures:
    final: float
    maximum: float
    mean: float
    values: FloatArray
    """The jitter after each packet, in timestamp units."""


def interarrival_jitter(
    timestamps: npt.NDArray[np.uint32], arrivals: FloatArray, clock_rate: int
) -> JitterFigures:
    """RFC 3550 A.8 jitter after each packet, in timestamp units.

    D is the change of transit time (arrival in timestamp units minus RTP timestamp) folded
    into +/-2^31 as the reference code does, and J(i) = J(i-1) + (|D(i)| - J(i-1))/16.
    """
    count = len(timestamps)
    values = np.zeros(count)
    if count > 1:
        transit = arrivals * clock_rate - timestamps.astype(np.float64)
        half = float(1 << 31)
        change = np.abs((np.diff(transit) + half) % float(1 << 32) - half)
        values[1:] = _recurrence(change)
    return JitterFigures(
        float(values[-1]) if count else 0.0,
        float(values.max()) if count else 0.0,
        float(values.mean()) if count else 0.0,
        values,
    )


def _recurrence(change: FloatArray) -> FloatArray:
    """J(k) = a J(k-1) + b |D(k)| with a = 15/16, b = 1/16, J(-1) = 0, a block at a time.

    Within a block, J(s+m) = a^m (a J(s-1) + b * sum_{j<=m} a^-j D(s+j)).
    """
    a, b = 15 / 16, 1 / 16
    result = np.empty_like(change)
    powers = a ** np.arange(JITTER_BLOCK, dtype=np.float64)
    inverse = 1 / powers
    previous = 0.0
    for start in range(0, len(change), JITTER_BLOCK):
        block = change[start : start + JITTER_BLOCK]
        size = len(block)
        sums = np.cumsum(block * inverse[:size])
        values = powers[:size] * (a * previous + b * sums)
        result[start : start + size] = values
        previous = float(values[-1])
    return result
