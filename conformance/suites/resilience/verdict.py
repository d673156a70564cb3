"""A fault scenario's verdict: its rule, held against the frames the system under test output.

The frames are the camsim stamps found in the output, in output order (frame index and send
wallclock): :func:`~conformance.suites.rtsp_client.judge.judge_frames` finds the breaks in the
sequence, and each is placed on the run's clock by the send times of the frames either side
of it. The rule (:class:`~camsim.fault.scenarios.VerdictRule`) then says which breaks were
allowed (inside a fault window, or within the recovery margin after it), how soon the output
had to start and to come back, how far it had to reach, and how much memory the system may
have gained. What was measured is kept beside what was expected, for the report.

Pure functions over stamps and samples; the suite's cases and the unit tests call them alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from camsim.fault.scenarios import FaultScenario
from conformance.hls.media import Stamped
from conformance.suites.rtsp_client.judge import US_PER_S, judge_frames
from conformance.suites.rtsp_client.output import OutputSegment

EDGE_S = 0.5
"""Frames sent this long before a window opens may still be lost to it (they were on the way,
or in a segment the fault cut short)."""
TIMESTAMP_TOLERANCE_S = 0.5
"""How far output timestamps may stray from the frames' send times, inside a segment or
across a boundary, before they count as a jump (pacing jitter of a busy machine)."""
SILENCE_S = 1.0
"""A pause between two consecutive output frames longer than this is a break, whatever
their indexes say."""
MB = 1024 * 1024
WARMUP_S = 3.0
"""The system under test has started (imports, buffers) by then."""


@dataclass(frozen=True, slots=True)
class TimedBreak:
    """A break in the output's frame sequence, on the run's clock."""

    after_s: float
    """Send time of the last frame before the break, seconds after the run started."""
    resumed_s: float
    """Send time of the first frame after it."""
    missing: int
    inside: bool
    """Within a fault window, from its start less :data:`EDGE_S` to its end plus the
    recovery margin."""


@dataclass
class ResilienceVerdict:
    """What was expected, what was measured, and where they differ."""

    expected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    measured: dict[str, tuple[float, str]] = field(default_factory=dict)
    breaks: list[TimedBreak] = field(default_factory=list)


MEMORY_NOT_SAMPLED = "memory growth not judged: the client's process was not sampled"


def expectations(scenario: FaultScenario, memory_sampled: bool = True) -> list[str]:
    """The rule of ``scenario`` in sentences (memory's only when it was sampled)."""
    rule = scenario.rule
    spans = ", ".join(f"{start:g}-{end:g} s" for start, end in scenario.fault_spans())
    said = [
        f"the first frame in the output was sent within {rule.first_frame_within:g} s",
        f"frames lost only inside the fault windows ({spans or 'none'}) or within "
        f"{rule.recover_within:g} s after each",
        f"the output reaches frames sent {scenario.reach:g} s into the run",
        f"memory grows by at most {rule.max_memory_growth_mb:g} MB"
        if memory_sampled
        else MEMORY_NOT_SAMPLED,
    ]
    if rule.max_breaks is not None:
        said.append(f"at most {rule.max_breaks} break(s) in the frame sequence")
    if rule.min_breaks:
        said.append(f"at least {rule.min_breaks} break(s): the fault happened")
    if rule.max_lag_growth is not None:
        said.append(
            f"back to real time: segments read from {_lag_from(scenario):g} s on appear, after "
            f"their newest frame was sent, at most {rule.max_lag_growth:g} s (median) later "
            "than the run's quickest segment did"
        )
    if rule.discontinuity_due:
        said.append("EXT-X-DISCONTINUITY where the new stream's timestamps jump")
    return said


def judge(
    scenario: FaultScenario,
    stamps: Sequence[Stamped],
    started_us: int,
    frame_count: int,
    memory: Sequence[tuple[float, int]] = (),
    fresh: Sequence[tuple[float, float]] = (),
) -> ResilienceVerdict:
    """Hold ``stamps`` (output order), ``memory`` (seconds into the run, resident bytes) and
    ``fresh`` (for each output segment that holds frames: seconds into the run when it was
    first read, and when its newest frame was sent) against ``scenario``'s rule."""
    rule = scenario.rule
    verdict = ResilienceVerdict(expected=expectations(scenario, len(memory) >= 2))
    if not stamps:
        verdict.problems.append("the output holds no frame: the stream never played")
        _judge_memory(scenario, memory, verdict)
        return verdict

    def at(stamp: Stamped) -> float:
        return (stamp.wallclock_us - started_us) / US_PER_S

    spans = scenario.fault_spans()
    first = at(stamps[0])
    last = max(at(s) for s in stamps)
    verdict.measured["first frame sent at"] = (round(first, 2), "s")
    verdict.measured["last frame sent at"] = (round(last, 2), "s")
    if first > rule.first_frame_within:
        verdict.problems.append(
            f"the first frame in the output was sent {first:.1f} s into the run "
            f"(within {rule.first_frame_within:g} s expected)"
        )
    judgement = judge_frames(list(stamps), max(frame_count, 1))
    spacing = _spacing(stamps)
    gaps: dict[int, int] = {}
    for item in judgement.breaks:
        # A rebooted camera starts its loop again: across a new stream the indexes say
        # nothing, the send times say how many frames the gap held.
        sent_gap = stamps[item.position].wallclock_us - stamps[item.position - 1].wallclock_us
        by_time = max(0, round(sent_gap / spacing) - 1) if spacing else item.missing
        gaps[item.position] = min(item.missing, by_time) or item.missing
    gaps.update(_silent_gaps(stamps, gaps, spacing))
    for position, missing in sorted(gaps.items()):
        before, after = at(stamps[position - 1]), at(stamps[position])
        inside = any(
            start - EDGE_S <= before and after <= end + rule.recover_within for start, end in spans
        )
        verdict.breaks.append(TimedBreak(before, after, missing, inside))
    outside = [b for b in verdict.breaks if not b.inside]
    verdict.measured["frames lost"] = (float(sum(b.missing for b in verdict.breaks)), "")
    verdict.measured["frames lost outside the fault windows"] = (
        float(sum(b.missing for b in outside)),
        "",
    )
    if outside:
        shown = ", ".join(
            f"{b.missing} between {b.after_s:.1f} s and {b.resumed_s:.1f} s" for b in outside[:3]
        )
        verdict.problems.append(f"frames lost outside the fault windows: {shown}")
    if rule.max_breaks is not None and len(verdict.breaks) > rule.max_breaks:
        verdict.problems.append(
            f"{len(verdict.breaks)} breaks in the frame sequence (at most {rule.max_breaks})"
        )
    faults_end = max((end for _, end in spans), default=0.0)
    if len(verdict.breaks) < rule.min_breaks and last >= faults_end:
        # Output that went on past the fault without a break never saw it (an output that
        # stops before is the reach rule's).
        verdict.problems.append(
            f"{len(verdict.breaks)} breaks in the frame sequence, where the fault cannot cause "
            f"fewer than {rule.min_breaks}: it did not happen, so the run proves nothing"
        )
    if judgement.duplicates:
        verdict.problems.append(f"{len(judgement.duplicates)} frames output twice")
    if judgement.reordered:
        verdict.problems.append(f"{len(judgement.reordered)} frames output out of sending order")
    _judge_recovery(scenario, [at(s) for s in stamps], verdict)
    _judge_lag(scenario, fresh, verdict)
    if last < scenario.reach:
        verdict.problems.append(
            f"the output stops at frames sent {last:.1f} s into the run "
            f"({scenario.reach:g} s expected): it did not go on after the fault"
        )
    _judge_memory(scenario, memory, verdict)
    return verdict


def _spacing(stamps: Sequence[Stamped]) -> int:
    """The median send interval between consecutive output frames, in µs (0 if unknown)."""
    steps = sorted(
        b.wallclock_us - a.wallclock_us
        for a, b in itertools.pairwise(stamps)
        if b.wallclock_us > a.wallclock_us
    )
    return steps[len(steps) // 2] if steps else 0


def _silent_gaps(stamps: Sequence[Stamped], known: dict[int, int], spacing: int) -> dict[int, int]:
    """Breaks the frame indexes cannot show: a gap of a whole number of the camera's loops
    brings the index back to one above the last. The send times show it: consecutive frames
    sent more than :data:`SILENCE_S` apart, where the stream's own spacing is far smaller."""
    found: dict[int, int] = {}
    if not spacing:
        return found
    for position in range(1, len(stamps)):
        gap = stamps[position].wallclock_us - stamps[position - 1].wallclock_us
        if position not in known and gap > SILENCE_S * US_PER_S and gap > 10 * spacing:
            found[position] = max(1, round(gap / spacing) - 1)
    return found


def _judge_recovery(scenario: FaultScenario, sent: list[float], verdict: ResilienceVerdict) -> None:
    """For each window that ends before the output must stop: how soon frames came back."""
    rule = scenario.rule
    for number, window in enumerate(scenario.windows, start=1):
        if window.end >= scenario.reach:
            continue  # the fault lasts (nearly) to the end: the reach rule judges it
        later = [t for t in sent if t >= window.end]
        if not later:
            continue  # the reach rule says the output stopped
        back = min(later) - window.end
        verdict.measured[f"window {number}: frames again after its end"] = (round(back, 2), "s")
        if back > rule.recover_within:
            verdict.problems.append(
                f"the output came back {back:.1f} s after the fault of {window.start:g}-"
                f"{window.end:g} s ended (within {rule.recover_within:g} s expected)"
            )


def _lag_from(scenario: FaultScenario) -> float:
    """When the output must be back to real time: the last window's end plus the margin."""
    faults_end = max((end for _, end in scenario.fault_spans()), default=0.0)
    return faults_end + scenario.rule.recover_within


def _judge_lag(
    scenario: FaultScenario, fresh: Sequence[tuple[float, float]], verdict: ResilienceVerdict
) -> None:
    """Whether the output caught up after the faults: a client that plays out a delay it
    suffered (a buffer that grows and never shrinks) has every later segment that much late.
    Each segment's lag is when it was read less when its newest frame was sent; the median of
    those read after :func:`_lag_from` is held against the quickest of the run (the client's
    own floor: its playout delay, the suite's polling), so one slow read of a busy machine
    does not decide and a client that is always as late is not judged late. No segment read
    after the margin leaves it to the reach rule."""
    limit = scenario.rule.max_lag_growth
    if limit is None or not fresh:
        return
    since = _lag_from(scenario)
    lags = sorted(read - sent for read, sent in fresh if read >= since)
    if not lags:
        return
    median = lags[len(lags) // 2]
    best = min(read - sent for read, sent in fresh)
    verdict.measured["lag after recovery (median)"] = (round(median, 2), "s")
    verdict.measured["lag at the quickest"] = (round(best, 2), "s")
    if median - best > limit:
        verdict.problems.append(
            f"still late after the fault: the {len(lags)} segments read from {since:g} s on "
            f"appeared {median:.1f} s (median) after their newest frame was sent, "
            f"{median - best:.1f} s later than the quickest of the run ({best:.1f} s; at most "
            f"{limit:g} s more expected): the client never caught up"
        )


def _judge_memory(
    scenario: FaultScenario, memory: Sequence[tuple[float, int]], verdict: ResilienceVerdict
) -> None:
    """Resident memory at the end against the most it held before the first fault (or by
    the end of its start-up, :data:`WARMUP_S`, when the fault is there from the start)."""
    if len(memory) < 2:
        return
    spans = scenario.fault_spans()
    first_fault = min((start for start, _ in spans), default=0.0)
    settled = max(first_fault, WARMUP_S, memory[0][0])
    before = [rss for t, rss in memory if t <= settled]
    baseline = max(before) if before else memory[0][1]
    growth = (memory[-1][1] - baseline) / MB
    verdict.measured["memory growth"] = (round(growth, 1), "MB")
    if growth > scenario.rule.max_memory_growth_mb:
        verdict.problems.append(
            f"resident memory grew {growth:.0f} MB over the run "
            f"(at most {scenario.rule.max_memory_growth_mb:g} MB)"
        )


def lost_per_second(breaks: Sequence[TimedBreak], seconds: float) -> list[int]:
    """Frames lost, by the second they were sent in (for the timeline)."""
    counts = [0] * max(1, int(seconds) + 1)
    for item in breaks:
        span = max(item.resumed_s - item.after_s, 1e-9)
        for k in range(1, item.missing + 1):
            second = int(item.after_s + span * k / (item.missing + 1))
            counts[min(max(second, 0), len(counts) - 1)] += 1
    return counts


def output_bits(segments: Sequence[OutputSegment], started_us: int, seconds: int) -> list[float]:
    """Bits of output by the second (of the run) their frames were sent: each segment's bytes
    shared equally among the stamped frames it holds."""
    bits = [0.0] * seconds
    for segment in segments:
        stamps = segment.media.stamps
        for stamp in stamps:
            sent = (stamp.wallclock_us - started_us) / US_PER_S
            if 0 <= sent < seconds:
                bits[int(sent)] += segment.media.size * 8 / len(stamps)
    return bits


def judge_segments(segments: Sequence[OutputSegment], frame_count: int) -> list[str]:
    """The output's segments: each must decode, the camera's audio must be there, and video
    timestamps may jump only after EXT-X-DISCONTINUITY (RFC 8216 §4.3.2.3).

    A hole where frames were lost is not a jump: the timestamps are right when they keep the
    camera's timing, read either from the stamped frames' indexes (``frame_count`` frames a
    loop) or from their send times (a camera late on a busy machine sends in bursts, which
    only the indexes see through). A new stream (a reboot) brings a new timestamp base and
    needs the tag unless the client rebased it onto the old timeline."""
    found: list[str] = []
    undecodable = [s for s in segments if s.media.decode_error or s.media.error]
    if undecodable:
        first = undecodable[0]
        reason = first.media.decode_error or first.media.error
        found.append(f"{len(undecodable)} segments do not decode (first {first.uri}: {reason})")
    loop = max(frame_count, 1)
    previous: tuple[float, Stamped] | None = None
    """The previous segment's video end and its last stamped frame."""
    for segment in segments:
        track = segment.media.track("video")
        stamps = segment.media.stamps
        if track is None or not stamps:
            previous = None
            continue
        frame = track.sample_duration
        span = track.end - track.start
        sent_span = (stamps[-1].wallclock_us - stamps[0].wallclock_us) / US_PER_S + frame
        frames = 1 + sum(
            (b.frame_index - a.frame_index) % loop for a, b in itertools.pairwise(stamps)
        )
        if min(abs(span - sent_span), abs(span - frames * frame)) > TIMESTAMP_TOLERANCE_S:
            found.append(
                f"video timestamps inside {segment.uri} span {span:.2f} s for {frames} frames "
                f"of the camera sent over {sent_span:.2f} s"
            )
        if previous is not None and not segment.discontinuity:
            end, last = previous
            jump = track.start - end
            sent_gap = (stamps[0].wallclock_us - last.wallclock_us) / US_PER_S - frame
            index_gap = ((stamps[0].frame_index - last.frame_index) % loop - 1) * frame
            if min(abs(jump), abs(jump - sent_gap), abs(jump - index_gap)) > TIMESTAMP_TOLERANCE_S:
                found.append(
                    f"video timestamps jump {jump:+.2f} s into {segment.uri} (the frames were "
                    f"sent {sent_gap:+.2f} s apart) with no EXT-X-DISCONTINUITY before it"
                )
        previous = (track.end, stamps[-1])
    if segments and not any(s.media.track("audio") for s in segments):
        found.append("the camera's AAC audio is not in the output")
    return found
