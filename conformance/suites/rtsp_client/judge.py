"""What the output of a client under test says about the frames the camera sent.

Every frame the suite's camera sends carries a camsim stamp: the frame's index in the sample
(which the camera loops, so indexes count modulo the sample's frame count) and the wallclock
at send time. A puller that carries the stream through unchanged shows, in its output, the
stamps in the order sent with each index one above the last. Anything else is a finding: a
frame given twice, frames lost, frames out of order, or a break where the stream stopped and
resumed (a camera restart, a stall the client recovered from), which a case may allow.

Pure functions over the stamps in output order; no I/O, so the verdicts are unit-tested.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from conformance.hls.media import Stamped

US_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class Break:
    """Where consecutive output frames are not consecutive camera frames."""

    position: int
    """Index in the output of the frame after the break."""
    missing: int
    """Frames of the loop skipped (``-1`` when the frame went backwards or repeated)."""
    gap_s: float
    """Wallclock between the two frames' sending, in seconds."""


@dataclass
class FrameJudgement:
    """The stamps of one client's output, judged."""

    frames: int = 0
    first_sent_us: int = 0
    last_sent_us: int = 0
    duplicates: list[int] = field(default_factory=list)
    """Output positions of a frame already output (same index, same wallclock)."""
    reordered: list[int] = field(default_factory=list)
    """Output positions of a frame sent before the one output just before it."""
    breaks: list[Break] = field(default_factory=list)
    """Forward breaks in the sequence (frames lost, or a stream that resumed)."""

    @property
    def span_s(self) -> float:
        return (self.last_sent_us - self.first_sent_us) / US_PER_S


def judge_frames(stamps: list[Stamped], frame_count: int) -> FrameJudgement:
    """Judge ``stamps`` (in output order) against a camera looping ``frame_count`` frames."""
    if frame_count < 1:
        raise ValueError("frame_count must be at least 1")
    judgement = FrameJudgement(frames=len(stamps))
    if not stamps:
        return judgement
    judgement.first_sent_us = stamps[0].wallclock_us
    judgement.last_sent_us = max(s.wallclock_us for s in stamps)
    seen: set[tuple[int, int]] = set()
    latest = stamps[0].wallclock_us
    seen.add((stamps[0].frame_index, stamps[0].wallclock_us))
    for position, (before, after) in enumerate(itertools.pairwise(stamps), start=1):
        key = (after.frame_index, after.wallclock_us)
        if key in seen:
            judgement.duplicates.append(position)
            continue
        seen.add(key)
        if after.wallclock_us < latest:
            judgement.reordered.append(position)
            continue
        latest = after.wallclock_us
        step = (after.frame_index - before.frame_index) % frame_count
        gap_s = (after.wallclock_us - before.wallclock_us) / US_PER_S
        if step != 1:
            judgement.breaks.append(Break(position, step - 1 if step else frame_count - 1, gap_s))
    return judgement


def problems(
    judgement: FrameJudgement,
    *,
    allowed_breaks: int = 0,
    allowed_gap_s: float = 0.0,
    must_reach_us: int | None = None,
) -> list[str]:
    """What is wrong with the output, one sentence each; empty when the client did right.

    ``allowed_breaks`` forward breaks of at most ``allowed_gap_s`` seconds each are accepted
    (a camera restart: the frames sent while the camera was away cannot be in the output);
    ``must_reach_us`` is a send wallclock the output must have reached (the client recovered
    and went on, rather than stopping at the first difficulty).
    """
    found: list[str] = []
    if judgement.frames == 0:
        return ["the output holds no frame of the camera's stream"]
    if judgement.duplicates:
        found.append(
            f"{len(judgement.duplicates)} frames output twice "
            f"(first at output frame {judgement.duplicates[0]})"
        )
    if judgement.reordered:
        found.append(
            f"{len(judgement.reordered)} frames out of sending order "
            f"(first at output frame {judgement.reordered[0]})"
        )
    breaks = judgement.breaks
    if len(breaks) > allowed_breaks:
        shown = ", ".join(
            f"{b.missing} frames missing before output frame {b.position}" for b in breaks[:3]
        )
        allowance = f"{allowed_breaks} allowed" if allowed_breaks else "none allowed"
        found.append(f"{len(breaks)} breaks in the frame sequence ({allowance}): {shown}")
    for item in breaks[:allowed_breaks]:
        if item.gap_s > allowed_gap_s:
            found.append(
                f"the stream resumed {item.gap_s:.1f} s after it stopped (at most "
                f"{allowed_gap_s:g} s allowed), at output frame {item.position}"
            )
    if must_reach_us is not None and judgement.last_sent_us < must_reach_us:
        short = (must_reach_us - judgement.last_sent_us) / US_PER_S
        found.append(
            f"the output stops {short:.1f} s before the point it must reach: the last frame "
            f"output was sent {judgement.span_s:.1f} s after the first"
        )
    return found
