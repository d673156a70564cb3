"""What the cases share when they judge a stream: did it stay up, and did its frames reach HLS.

A frame is known by its stamp's frame index. :func:`frame_findings` compares the frames a
stream pushed with those its HLS holds (missing, duplicated, out of order);
:func:`timing_findings` compares the intervals between frames in HLS with those of their RTMP
timestamps, within a discontinuity. :func:`stream_findings` is what most stream cases ask: the
publish accepted, the connection kept, and (with ``--hls``) every frame of every complete GOP
in the output in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from conformance.rtmp.follower import FollowedSegment, FollowedStream
from conformance.rtmp.frames import Frame
from conformance.rtmp.observation import PushedFrame, PushedStream
from conformance.rtmp.probe import ProbeLog
from reports.model import Detail

TIMING_TOLERANCE = 0.0015
"""Seconds: RTMP timestamps are whole milliseconds, HLS times 90 kHz ticks (or the track's
timescale), so two intervals may differ by a rounding on each side."""
MAX_DETAILS = 20


@dataclass(frozen=True, slots=True)
class SeenFrame:
    """A frame of the HLS output and the segment it is in."""

    frame: Frame
    segment: FollowedSegment


def seen_frames(hls: FollowedStream) -> list[SeenFrame]:
    """Every stamped frame of the output, in playlist order (media sequence, then decode
    order within a segment)."""
    frames: list[SeenFrame] = []
    for segment in sorted(hls.segments, key=lambda s: s.sequence):
        if segment.content is None:
            continue
        frames.extend(SeenFrame(f, segment) for f in segment.content.frames if f.index >= 0)
    return frames


def ranges(indexes: list[int]) -> str:
    """``3-7, 12, 15-16`` for a sorted list of indexes."""
    parts = []
    for _, group in itertools.groupby(enumerate(indexes), key=lambda p: p[1] - p[0]):
        run = [index for _, index in group]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


def hls_problem(hls: FollowedStream | None) -> str:
    """Why there is nothing to judge in ``hls``, or ``""``."""
    if hls is None:
        return "its HLS was not followed"
    if not hls.served():
        return f"{hls.url} never listed a segment (last answer: {hls.last_outcome()})"
    broken = [s for s in hls.segments if s.error or (s.content and s.content.error)]
    if broken and len(broken) == len(hls.segments):
        first = broken[0]
        error = first.error or (first.content.error if first.content else "")
        return f"no segment of {hls.url} could be read: {first.uri}: {error}"
    return ""


def frame_findings(required: list[PushedFrame], hls: FollowedStream) -> list[Detail]:
    """Frames of ``required`` missing from the output, shown twice, or out of order."""
    seen = seen_frames(hls)
    wanted = {f.index for f in required if f.index >= 0}
    details: list[Detail] = []
    counts: dict[int, list[SeenFrame]] = {}
    for item in seen:
        counts.setdefault(item.frame.index, []).append(item)
    missing = sorted(wanted - counts.keys())
    if missing:
        details.append(
            Detail(
                f"{len(missing)} of {len(wanted)} frames pushed never appeared: "
                f"frame indexes {ranges(missing)}",
                hls.url,
            )
        )
    for index, items in sorted(counts.items()):
        if index in wanted and len(items) > 1:
            where = ", ".join(f"segment {i.segment.sequence}" for i in items)
            details.append(Detail(f"frame {index} appears {len(items)} times", where))
    order = [item for item in seen if item.frame.index in wanted]
    for before, after in itertools.pairwise(order):
        if after.frame.index < before.frame.index:
            details.append(
                Detail(
                    f"frame {after.frame.index} comes after frame {before.frame.index}",
                    f"segment {after.segment.sequence} ({after.segment.uri.rsplit('/', 1)[-1]})",
                )
            )
    return details[:MAX_DETAILS]


def timing_findings(pushed: list[PushedFrame], hls: FollowedStream) -> list[Detail]:
    """Pairs of consecutive pushed frames whose interval in the output differs from the
    interval of their RTMP timestamps, when both are in one discontinuity."""
    by_index = {f.index: f for f in pushed if f.index >= 0}
    found: dict[int, SeenFrame] = {}
    for item in seen_frames(hls):
        found.setdefault(item.frame.index, item)
    details: list[Detail] = []
    ordered = sorted(i for i in by_index if i in found)
    for a, b in itertools.pairwise(ordered):
        if b != a + 1:
            continue
        first, second = found[a], found[b]
        if first.segment.discontinuity_number != second.segment.discontinuity_number:
            continue
        expected = ((by_index[b].timestamp - by_index[a].timestamp) & 0xFFFFFFFF) / 1000
        seen = second.frame.dts - first.frame.dts
        if first.segment is not second.segment:
            seen = _unwrapped(seen)
        if abs(seen - expected) > TIMING_TOLERANCE:
            details.append(
                Detail(
                    f"frames {a} and {b}: {expected * 1000:.0f} ms apart in RTMP, "
                    f"{seen * 1000:.1f} ms apart in HLS",
                    f"segment {second.segment.sequence}",
                )
            )
    return details


def _unwrapped(delta: float) -> float:
    """A decode time difference across the 33-bit MPEG-TS wrap, brought back."""
    wrap = (1 << 33) / 90_000
    if delta < -wrap / 2:
        return delta + wrap
    if delta > wrap / 2:
        return delta - wrap
    return delta


def last_steps(log: ProbeLog | None, count: int = 3) -> str:
    """The probe's last steps, for a message about where it stopped."""
    if log is None or not log.sent:
        return ""
    return "; after " + ", ".join(what for _, what in log.sent[-count:])


def connection_findings(stream: PushedStream, what: str) -> list[Detail]:
    """The publish was accepted and the connection lasted until the suite ended it."""
    if not stream.published:
        why = stream.refusal or stream.error or "no answer to publish"
        return [Detail(f"the publish of {what} was not accepted: {why}", stream.name)]
    if stream.error:
        return [
            Detail(
                f"{what}: the connection ended before the suite unpublished: {stream.error}"
                f"{last_steps(stream.log)}",
                stream.name,
            )
        ]
    return []


def stream_findings(stream: PushedStream | None, what: str, *, timing: bool = True) -> list[Detail]:
    """Accepted, kept, and (when its HLS is followed) every frame of every complete GOP in the
    output, once, in order, with the timing it was sent with."""
    if stream is None:
        return [Detail(f"{what} was not published (the run did not get that far)")]
    details = connection_findings(stream, what)
    if details or stream.hls is None:
        return details
    problem = hls_problem(stream.hls)
    if problem:
        return [Detail(f"{what}: {problem}", stream.name)]
    required = stream.complete_gops()
    details = frame_findings(required, stream.hls)
    if timing and not details:
        details = timing_findings(required, stream.hls)
    return details
