"""Cameras with G.711 or Opus audio: samples made and loaded, the SDP and the RTP they send."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camsim.camera.cli import run as run_command
from camsim.camera.fleet import FleetConfig
from camsim.media.loader import load
from camsim.media.spec import AudioCodec, SampleSpec
from tests.conftest import SampleFactory
from tests.integration.camera.client import RtspTestClient
from tests.integration.camera.harness import running_fleet
from wire.rtp.sequence import seq_diff

# (codec, payload type, rtpmap, RTP ticks per packet, payload octets per packet or None)
EXPECTED = {
    AudioCodec.PCMU: (0, "0 PCMU/8000", 160, 160),
    AudioCodec.PCMA: (8, "8 PCMA/8000", 160, 160),
    AudioCodec.OPUS: (97, "97 opus/48000/2", 960, None),
}


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.fixture(scope="module", params=list(EXPECTED), ids=str)
def audio_sample(request: pytest.FixtureRequest, make_test_sample: SampleFactory) -> Path:
    codec: AudioCodec = request.param
    return make_test_sample(**SampleSpec.audio_defaults(codec))


def test_the_sample_holds_the_codec_in_20_ms_units(audio_sample: Path) -> None:
    sample = load(audio_sample)
    assert sample.audio is not None
    codec = sample.audio.codec
    _, _, ticks, size = EXPECTED[codec]
    units = sample.audio_units
    assert sample.audio.sample_rate == (48_000 if codec is AudioCodec.OPUS else 8000)
    assert sample.audio.asc == b""
    assert [u.duration for u in units[:-1]] == [ticks] * (len(units) - 1)
    assert all(b.pts - a.pts == ticks for a, b in itertools.pairwise(units))
    if size is not None:  # G.711: one octet a sample
        assert {len(u.data) for u in units[:-1]} == {size}
    # Audio and video cover the same span (the video's length is the loop period).
    assert abs(units[-1].pts + units[-1].duration - sample.duration * units[0].clock_rate) <= ticks


def test_the_camera_describes_and_sends_the_codec(audio_sample: Path) -> None:
    codec = load(audio_sample).audio.codec  # type: ignore[union-attr]
    payload_type, rtpmap, ticks, size = EXPECTED[codec]

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            sdp, _, _ = await client.start_tcp()
            audio = next(m for m in sdp.media if m.media == "audio")
            assert audio.formats == [str(payload_type)]
            described = audio.rtpmap(payload_type)
            assert described is not None
            assert described.serialize() == rtpmap
            if codec is AudioCodec.OPUS:
                assert audio.fmtp(payload_type) == {"sprop-stereo": "1"}  # the stereo tone
            packets = await client.rtp(2, 20)
            assert {p.payload_type for p in packets} == {payload_type}
            assert not any(p.marker for p in packets)
            pairs = list(itertools.pairwise(packets))
            assert all(seq_diff(b.sequence_number, a.sequence_number) == 1 for a, b in pairs)
            assert all((b.timestamp - a.timestamp) % (1 << 32) == ticks for a, b in pairs)
            if size is not None:
                assert {len(p.payload) for p in packets} == {size}
            else:  # one Opus packet each, stereo per its TOC byte's s bit (RFC 6716 §3.1)
                assert all(p.payload[0] & 0x04 for p in packets)

    config = FleetConfig(media=(audio_sample,), request_timeout=1.0, idle_timeout=5.0)
    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_g711_needs_8000_hz_mono_and_opus_48000_hz() -> None:
    with pytest.raises(ValueError, match="8000 Hz mono"):
        SampleSpec(audio_codec=AudioCodec.PCMU)
    with pytest.raises(ValueError, match="48000 Hz"):
        SampleSpec(audio_codec=AudioCodec.OPUS, sample_rate=16_000)


def test_an_aac_sample_keeps_the_cache_key_it_had_before_codecs_could_be_chosen() -> None:
    # The key of the default spec as computed before ``audio_codec`` existed.
    assert SampleSpec().cache_key() == "h264-1280x720-851f01eda6d3"
    assert SampleSpec(**SampleSpec.audio_defaults(AudioCodec.PCMU)).cache_key() != (  # type: ignore[arg-type]
        SampleSpec(sample_rate=8000, channels=1).cache_key()
    )


def test_an_audio_only_camera_describes_and_plays_one_stream(
    make_test_sample: SampleFactory,
) -> None:
    path = make_test_sample(video=False, **SampleSpec.audio_defaults(AudioCodec.PCMA))
    sample = load(path)
    assert sample.video is None
    assert sample.audio is not None

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            sdp, setups, play = await client.start_tcp()
            assert [m.media for m in sdp.media] == ["audio"]
            assert len(setups) == 1
            assert play.rtp_info is not None
            (entry,) = play.rtp_info.entries
            packets = await client.rtp(0, 10)
            assert (packets[0].sequence_number, packets[0].timestamp) == (entry.seq, entry.rtptime)
            assert {p.payload_type for p in packets} == {8}

    config = FleetConfig(media=(path,), request_timeout=1.0, idle_timeout=5.0)
    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_the_fleet_default_sample_follows_audio_and_video_options() -> None:
    assert FleetConfig().default_spec() == SampleSpec()
    pcmu = FleetConfig(audio=AudioCodec.PCMU, video=False).default_spec()
    assert (pcmu.audio_codec, pcmu.sample_rate, pcmu.channels, pcmu.video) == (
        AudioCodec.PCMU,
        8000,
        1,
        False,
    )
    assert not FleetConfig(audio=None).default_spec().audio
    with pytest.raises(ValueError, match="video, audio or both"):
        FleetConfig(audio=None, video=False)


def test_camsim_run_refuses_a_camera_with_nothing_to_send() -> None:
    result = CliRunner().invoke(run_command, ["--audio", "none", "--audio-only", "--duration", "1"])
    assert result.exit_code == 2
    assert "video, audio or both" in result.output
