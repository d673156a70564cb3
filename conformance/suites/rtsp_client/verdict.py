"""A scenario's result turned into what the case reports: problems, details, measurements."""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.hls.media import Stamped
from conformance.suites.rtsp_client.judge import US_PER_S, FrameJudgement, judge_frames, problems
from conformance.suites.rtsp_client.run import ScenarioResult
from conformance.suites.rtsp_client.scenarios import Sample
from reports.model import Detail

TIMESTAMP_TOLERANCE_S = 0.5
"""How far a segment's first decode time may be from the previous one's end without an
EXT-X-DISCONTINUITY between them (a few frames of jitter, not a jump)."""
AUDIO_START_ALLOWANCE_S = 3.0
"""Audio carries no stamp of its sending time, so an audio-only output is judged by its length:
it must hold the run up to the point it must reach, less this much for connecting and the
first segment."""


@dataclass
class ScenarioVerdict:
    """What the case says about one scenario."""

    problems: list[str] = field(default_factory=list)
    details: list[Detail] = field(default_factory=list)
    judgement: FrameJudgement = field(default_factory=FrameJudgement)
    stamps: list[Stamped] = field(default_factory=list)
    first_frame_s: float | None = None
    """Seconds from the camera's start to the sending of the first frame in the output."""
    resumed_after_s: list[float] = field(default_factory=list)
    """The length of each break, send time to send time."""
    audio_s: float | None = None
    """Seconds of audio in the output of an audio-only camera (None for a camera with video)."""


def judge_result(result: ScenarioResult) -> ScenarioVerdict:
    """Everything the client's output says about how it coped with the scenario."""
    verdict = ScenarioVerdict()
    scenario = result.scenario
    if result.error:
        verdict.problems.append(result.error)
        return verdict
    output = result.output
    segments = output.segments if output is not None else []
    if scenario.sample is Sample.AUDIO_ONLY:
        _judge_audio_only(result, verdict)
        _check_segments(result, verdict)
        _log_tail(result, verdict)
        return verdict
    stamps = [stamp for segment in segments for stamp in segment.media.stamps]
    verdict.stamps = stamps
    judgement = judge_frames(stamps, max(result.frame_count, 1))
    verdict.judgement = judgement
    must_reach_us = result.started_us + int(scenario.reach * US_PER_S)
    verdict.problems.extend(
        problems(
            judgement,
            allowed_breaks=scenario.allowed_breaks,
            allowed_gap_s=scenario.allowed_gap,
            must_reach_us=must_reach_us,
        )
    )
    if stamps:
        verdict.first_frame_s = (stamps[0].wallclock_us - result.started_us) / US_PER_S
    verdict.resumed_after_s = [b.gap_s for b in judgement.breaks]
    for item in judgement.breaks[:10]:
        verdict.details.append(
            Detail(
                f"{item.missing} frames skipped, {item.gap_s:.2f} s between their sending",
                f"output frame {item.position}",
            )
        )
    _check_segments(result, verdict)
    _log_tail(result, verdict)
    return verdict


def _log_tail(result: ScenarioResult, verdict: ScenarioVerdict) -> None:
    if verdict.problems and result.log_tail:
        status = "killed" if result.killed else f"exit status {result.exit_code}"
        verdict.details.append(Detail(" | ".join(result.log_tail[-4:]), f"client log ({status})"))


def _judge_audio_only(result: ScenarioResult, verdict: ScenarioVerdict) -> None:
    """An audio-only camera: the output must hold its audio, for about as long as the run."""
    output = result.output
    segments = output.segments if output is not None else []
    tracks = [track for s in segments if (track := s.media.track("audio")) is not None]
    seconds = sum(track.end - track.start for track in tracks)
    verdict.audio_s = seconds
    if not tracks:
        verdict.problems.append("the output holds no audio of the audio-only camera")
        return
    needed = result.scenario.reach - AUDIO_START_ALLOWANCE_S
    if seconds < needed:
        verdict.problems.append(
            f"the output holds {seconds:.1f} s of audio, {needed:.1f} s expected (the run's "
            f"first {result.scenario.reach:g} s less {AUDIO_START_ALLOWANCE_S:g} s to start)"
        )


def _check_segments(result: ScenarioResult, verdict: ScenarioVerdict) -> None:
    output = result.output
    if output is None:
        return
    undecodable = [s for s in output.segments if s.media.decode_error or s.media.error]
    if undecodable:
        first = undecodable[0]
        verdict.problems.append(f"{len(undecodable)} segments do not decode")
        verdict.details.append(Detail(first.media.decode_error or first.media.error, first.uri))
    previous_end: float | None = None
    for segment in output.segments:
        track = segment.media.track("video")
        if track is None:
            continue
        # RFC 8216 §4.3.2.3: a timestamp sequence that changes needs EXT-X-DISCONTINUITY, so a
        # jump inside a segment is never right, and one between segments only after the tag.
        inside = (track.end - track.start) - track.samples * track.sample_duration
        if inside > TIMESTAMP_TOLERANCE_S:
            verdict.problems.append(
                f"video timestamps jump {inside:+.2f} s inside {segment.uri} "
                f"({track.samples} frames span {track.end - track.start:.2f} s)"
            )
            verdict.details.append(Detail(f"{inside:+.3f} s", segment.uri))
            break
        if previous_end is not None and not segment.discontinuity:
            jump = track.start - previous_end
            if abs(jump) > TIMESTAMP_TOLERANCE_S:
                verdict.problems.append(
                    f"video timestamps jump {jump:+.2f} s into {segment.uri} "
                    "with no EXT-X-DISCONTINUITY before it"
                )
                verdict.details.append(Detail(f"{jump:+.3f} s", segment.uri))
                break
        previous_end = track.end
    has_audio = any(s.media.track("audio") for s in output.segments)
    if result.scenario.sample.audio_required and output.segments and not has_audio:
        verdict.problems.append("the camera's AAC audio is not in the output")
    for error in output.errors[:3]:
        verdict.problems.append(error)
