"""A camera whose picture size changes mid-stream: new SPS and PPS in band at a keyframe, the
SDP's sprop-parameter-sets still the first ones (RFC 6184 §8.4)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from camsim.camera.cli import run as run_command
from camsim.camera.fleet import FleetConfig
from camsim.media.loader import load
from camsim.media.spec import SampleSpec
from tests.conftest import SampleFactory
from tests.integration.camera.client import RtspTestClient
from tests.integration.camera.harness import running_fleet
from wire.codec.h264 import H264Sps
from wire.codec.nal import H264_NAL_SPS, VideoCodec, nal_type
from wire.payload import H264Depacketizer, VideoAccessUnit

SECOND = (160, 96)


@pytest.fixture(scope="module")
def switching(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(switch_size=SECOND)


def _sps_sizes(nalus: tuple[bytes, ...]) -> list[tuple[int, int]]:
    sizes = []
    for nal in nalus:
        if nal_type(VideoCodec.H264, nal) == H264_NAL_SPS:
            sps = H264Sps.parse(nal)
            sizes.append((sps.width, sps.height))
    return sizes


def test_the_sample_switches_size_at_the_middle_keyframe_and_decodes(switching: Path) -> None:
    sample = load(switching)
    assert sample.video is not None
    first = (sample.video.width, sample.video.height)
    assert first != SECOND
    keyframes = [u for u in sample.video_units if u.keyframe]
    switch = len(sample.video_units) // 2
    # Every keyframe carries its own SPS: the first size before the middle, the second after.
    assert [_sps_sizes(u.nalus) for u in keyframes] == [
        [first] if u.frame_index is not None and u.frame_index < switch else [SECOND]
        for u in keyframes
    ]
    assert [u.frame_index for u in sample.video_units] == list(range(len(sample.video_units)))
    with av.open(str(switching)) as container:
        sizes = [(f.width, f.height) for f in container.decode(video=0)]
    assert sizes == [first] * switch + [SECOND] * (len(sizes) - switch)


def test_the_camera_sends_the_new_parameter_sets_in_band_and_the_first_in_the_sdp(
    switching: Path,
) -> None:
    async def scenario(url: str) -> list[tuple[int, int]]:
        async with RtspTestClient(url) as client:
            sdp, _, _ = await client.start_tcp()
            video = sdp.media[0]
            sprop = video.fmtp(96)["sprop-parameter-sets"].split(",")
            assert _sps_sizes((base64.b64decode(sprop[0]),)) == [(320, 240)]
            depacketizer = H264Depacketizer()
            seen: list[tuple[int, int]] = []
            while len(seen) < 3:  # keyframes of both sizes, whichever half the camera is in
                for packet in await client.rtp(0, 1):
                    for event in depacketizer.receive(packet):
                        if isinstance(event, VideoAccessUnit) and event.keyframe:
                            seen.extend(_sps_sizes(event.nal_units))
            return seen

    config = FleetConfig(media=(switching,), request_timeout=1.0, idle_timeout=5.0)
    with running_fleet(config) as fleet:
        seen = asyncio.run(asyncio.wait_for(scenario(fleet.urls[0]), 30))
    assert {(320, 240), SECOND} <= set(seen)


def test_a_switch_needs_h264_even_sizes_and_a_keyframe_to_switch_at() -> None:
    with pytest.raises(ValueError, match="even sizes"):
        SampleSpec(switch_size=(161, 96))
    with pytest.raises(ValueError, match="keyframe after the first"):
        SampleSpec(switch_size=(160, 96), gop_seconds=SampleSpec().duration)
    assert SampleSpec(switch_size=(160, 96)).cache_key() != SampleSpec().cache_key()


def test_the_fleet_default_sample_takes_the_switch_size() -> None:
    spec = FleetConfig(switch_size=(640, 360)).default_spec()
    assert spec.switch_size == (640, 360)
    assert spec.switch_frame > 0


@pytest.mark.parametrize(("text", "words"), [("640x361", "even sizes"), ("wide", "WIDTHxHEIGHT")])
def test_camsim_run_refuses_a_bad_switch_size(text: str, words: str) -> None:
    result = CliRunner().invoke(run_command, ["--switch-size", text, "--duration", "1"])
    assert result.exit_code == 2
    assert words in result.output
