"""rtsp-client's verdict on a scenario's output: segments' timing, audio, decoding, the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.hls.media import SegmentMedia, Stamped, Track
from conformance.suites.rtsp_client.output import FolderOutput, OutputSegment
from conformance.suites.rtsp_client.run import CommandTemplate, ScenarioResult
from conformance.suites.rtsp_client.scenarios import Sample, Scenario, catalogue, rfc
from conformance.suites.rtsp_client.verdict import judge_result

FRAMES = 150
FRAME_S = 1 / 15
START_US = 1_700_000_000_000_000
SCENARIO = Scenario("RTSPC-TEST-001", "a test", (rfc(2326, "10"),), seconds=6.0)


def segment(number: int, *, start: float | None = None, audio: bool = True) -> OutputSegment:
    """One second of the camera's frames (15), as the n-th segment of the output."""
    first = number * 15
    media = SegmentMedia("ts", 1000)
    media.stamps = [
        Stamped((first + n) % FRAMES, START_US + int((first + n) * FRAME_S * 1e6))
        for n in range(15)
    ]
    begin = number * 1.0 if start is None else start
    media.tracks.append(Track("video", "avc1.64000c", begin, begin + 1.0, begin, 15, FRAME_S))
    if audio:
        media.tracks.append(Track("audio", "mp4a.40.2", begin, begin + 1.0, begin, 47, 0.021))
    return OutputSegment(f"index{number}.ts", False, media)


def result_of(segments: list[OutputSegment], scenario: Scenario = SCENARIO) -> ScenarioResult:
    output = FolderOutput(Path("/nonexistent"))
    output.segments = segments
    return ScenarioResult(scenario, frame_count=FRAMES, started_us=START_US, output=output)


def test_a_clean_output_passes() -> None:
    verdict = judge_result(result_of([segment(n) for n in range(3)]))
    assert verdict.problems == []
    assert verdict.judgement.frames == 45
    assert verdict.first_frame_s == 0.0


def test_a_timestamp_jump_without_discontinuity_fails() -> None:
    segments = [segment(0), segment(1), segment(2, start=2.0 + 3 * 3600)]
    verdict = judge_result(result_of(segments))
    assert verdict.problems == [
        "video timestamps jump +10800.00 s into index2.ts with no EXT-X-DISCONTINUITY before it"
    ]


def test_a_timestamp_jump_inside_a_segment_fails() -> None:
    segments = [segment(0), segment(1), segment(2)]
    video = segments[1].media.tracks[0]
    video.end += 3 * 3600  # 15 frames spanning 3 h: the jump is between two of them
    verdict = judge_result(result_of(segments))
    assert verdict.problems == [
        "video timestamps jump +10800.00 s inside index1.ts (15 frames span 10801.00 s)"
    ]


def test_a_timestamp_jump_after_a_discontinuity_is_accepted() -> None:
    segments = [segment(0), segment(1), segment(2, start=50.0)]
    segments[2].discontinuity = True
    assert judge_result(result_of(segments)).problems == []


def test_audio_left_out_of_an_audio_camera_fails_but_not_of_a_video_only_one() -> None:
    segments = [segment(n, audio=False) for n in range(3)]
    assert judge_result(result_of(segments)).problems == [
        "the camera's AAC audio is not in the output"
    ]
    video_only = Scenario(
        "RTSPC-TEST-002", "v", (rfc(2326, "10"),), sample=Sample.VIDEO_ONLY, seconds=6.0
    )
    assert judge_result(result_of(segments, video_only)).problems == []


def test_a_segment_that_does_not_decode_fails() -> None:
    segments = [segment(n) for n in range(3)]
    segments[1].media.decode_error = "frame 3: Invalid data found when processing input"
    verdict = judge_result(result_of(segments))
    assert verdict.problems == ["1 segments do not decode"]
    assert verdict.details[-1].where == "index1.ts"


def test_output_that_stops_before_the_point_it_must_reach_fails() -> None:
    long_run = Scenario("RTSPC-TEST-003", "l", (rfc(2326, "10"),), seconds=12.0)
    verdict = judge_result(result_of([segment(n) for n in range(3)], long_run))
    assert len(verdict.problems) == 1
    assert verdict.problems[0].startswith("the output stops 4.1 s before the point it must reach")


def test_the_command_needs_url_and_out() -> None:
    with pytest.raises(ValueError, match=r"must contain \{out\}"):
        CommandTemplate("ffmpeg -i {url} -f null -")
    command = CommandTemplate("ffmpeg -i {url} -f hls '{out}/index.m3u8' -hls_base_url {name}/")
    assert command.argv("rtsp://127.0.0.1:1/cam1", Path("/tmp/o u"), "x") == [
        "ffmpeg", "-i", "rtsp://127.0.0.1:1/cam1", "-f", "hls", "/tmp/o u/index.m3u8",
        "-hls_base_url", "x/",
    ]  # fmt: skip


def test_every_quirk_profile_is_a_case() -> None:
    from camsim.camera.quirks import REGISTRY

    ids = {scenario.case_id for scenario in catalogue()}
    assert {f"RTSPC-QUIRK-{name.upper()}" for name in REGISTRY} <= ids
    assert len(ids) == len(catalogue())
