"""The catalogue's camera options: each case's camera is configured to meet its case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from camsim.media.spec import AudioCodec
from conformance.hls.media import SegmentMedia, Track
from conformance.suites.rtsp_client.output import OutputSegment
from conformance.suites.rtsp_client.run import SAMPLE_SPECS, CommandTemplate, ScenarioRunner
from conformance.suites.rtsp_client.scenarios import Sample, Scenario, catalogue
from conformance.suites.rtsp_client.verdict import judge_result
from tests.unit.conformance.rtsp_client.test_verdict import result_of, segment

VIDEO_RATE = 90_000
AUDIO_RATE = 48_000


def scenario(case_id: str) -> Scenario:
    return next(s for s in catalogue() if s.case_id == case_id)


def test_the_wrap_case_crosses_both_wraps_before_the_point_the_output_must_reach() -> None:
    wrap = scenario("RTSPC-RTP-001")
    origin = wrap.rtp_origin
    assert origin.timestamp is not None
    assert origin.sequence is not None
    # Each stream starts at the origin: seconds of its own clock until the 32-bit wrap.
    for rate in (VIDEO_RATE, AUDIO_RATE):
        seconds_to_wrap = ((1 << 32) - origin.timestamp) / rate
        assert 0.5 < seconds_to_wrap < wrap.reach - 1.0, rate
    # The short sample sends at least 2 video packets a frame at 15 fps, and ~47 AAC frames
    # a second: the sequence of either stream wraps within the run.
    assert (1 << 16) - origin.sequence <= 15 * 2 * (wrap.reach - 1.0)


def test_the_other_cases_keep_random_origins() -> None:
    others = [s for s in catalogue() if s.case_id != "RTSPC-RTP-001"]
    assert all(s.rtp_origin.random for s in others)


def test_the_runner_gives_the_camera_the_scenario_origin(tmp_path: Path) -> None:
    runner = ScenarioRunner(
        CommandTemplate("client {url} {out}"), {Sample.SHORT: tmp_path / "x.mp4"}, tmp_path
    )
    wrap = scenario("RTSPC-RTP-001")
    assert runner._config(wrap, "pw", 0).rtp_origin == wrap.rtp_origin


@pytest.mark.parametrize("case_id", ["RTSPC-AUDIO-001", "RTSPC-AUDIO-002", "RTSPC-AUDIO-003"])
def test_audio_hls_cannot_carry_may_be_left_out_but_not_the_video(case_id: str) -> None:
    audio_case = scenario(case_id)
    assert not audio_case.sample.audio_required
    without_audio = [segment(n, audio=False) for n in range(3)]
    short = replace(audio_case, seconds=6.0)
    assert judge_result(result_of(without_audio, short)).problems == []
    transcoded = [segment(n, audio=True) for n in range(3)]
    assert judge_result(result_of(transcoded, short)).problems == []
    # Keeping the audio is no excuse for losing video frames.
    gapped = [segment(0, audio=False), segment(2, audio=False)]
    assert judge_result(result_of(gapped, short)).problems


def test_each_audio_case_plays_its_codec_with_video() -> None:
    specs = {
        "RTSPC-AUDIO-001": AudioCodec.PCMU,
        "RTSPC-AUDIO-002": AudioCodec.PCMA,
        "RTSPC-AUDIO-003": AudioCodec.OPUS,
    }
    for case_id, codec in specs.items():
        spec = SAMPLE_SPECS[scenario(case_id).sample]
        assert (spec.audio_codec, spec.video, spec.audio) == (codec, True, True)
    assert SAMPLE_SPECS[Sample.SHORT].audio_codec is AudioCodec.AAC
    assert Sample.SHORT.audio_required


def test_the_parameter_set_case_switches_size_inside_the_span_it_judges() -> None:
    switch = scenario("RTSPC-PARAM-001")
    spec = SAMPLE_SPECS[switch.sample]
    assert spec.switch_size is not None
    assert spec.switch_size != (spec.width, spec.height)
    # The camera starts at the loop's start: the switch and the way back both fall in the run.
    switch_s = spec.switch_frame / spec.fps
    assert 1.0 < switch_s < switch.reach
    assert spec.duration < switch.seconds
    assert switch.sample.audio_required


def audio_segment(number: int) -> OutputSegment:
    """One second of AAC audio alone, as the n-th segment of the output."""
    media = SegmentMedia("ts", 1000)
    media.tracks.append(Track("audio", "mp4a.40.2", number, number + 1.0, number, 47, 0.021))
    return OutputSegment(f"index{number}.ts", False, media)


def test_an_audio_only_camera_is_judged_by_the_audio_the_output_holds() -> None:
    audio_only = scenario("RTSPC-PLAY-004")
    assert SAMPLE_SPECS[audio_only.sample].video is False
    assert SAMPLE_SPECS[audio_only.sample].audio_codec is AudioCodec.AAC
    enough = judge_result(result_of([audio_segment(n) for n in range(6)], audio_only))
    assert enough.problems == []
    assert enough.audio_s == 6.0
    # A client that gave up after two seconds.
    short = judge_result(result_of([audio_segment(n) for n in range(2)], audio_only))
    assert short.problems == [
        "the output holds 2.0 s of audio, 4.0 s expected (the run's first 7 s less 3 s to start)"
    ]
    nothing = judge_result(result_of([], audio_only))
    assert nothing.problems == ["the output holds no audio of the audio-only camera"]
    # Video in place of the audio is not the camera's stream either.
    video = judge_result(result_of([segment(n, audio=False) for n in range(6)], audio_only))
    assert "the output holds no audio of the audio-only camera" in video.problems
