"""AAC that a segment format cannot carry is left out; the video goes on, the API and the log
say why.

ADTS, which MPEG-TS needs in front of every AAC frame, has a two-bit profile: audio object types
1 to 4 only. A publisher's sequence header with ER AAC LTP (19), ER Parametric (27) or a
reserved type (73) used to raise ``CodecError`` from the ADTS writer at the first audio frame,
out of the packager and into the connection.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from refserver.hls import AudioConfig, Frame, FrameKind, HlsOptions, HlsSegmenter, MemoryStorage
from refserver.ingest.tracks import FlvTracks
from refserver.streams import PublisherInfo, StreamRegistry
from tests.unit.refserver.hls.streams import AUDIO, VIDEO, av_frames
from wire.codec.aac import AudioSpecificConfig
from wire.hls import parse
from wire.ts import demux
from wire.ts.muxer import PID_AUDIO, PID_VIDEO


def asc_bytes(bits: str) -> bytes:
    """An AudioSpecificConfig from its bits, zero-padded to a byte."""
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


# audioObjectType, samplingFrequencyIndex 3 (48 kHz), channelConfiguration 2, then the rest of
# an error-resilient GASpecificConfig (frameLengthFlag, dependsOnCoreCoder, extensionFlag 1,
# the three resilience flags, extensionFlag3) and epConfig 0.
ER_AAC_LTP = asc_bytes("10011" + "0011" + "0010" + "001" + "000" + "0" + "00")
ER_PARAMETRIC = asc_bytes("11011" + "0011" + "0010" + "0000" + "00")
RESERVED_73 = asc_bytes("11111" + "101001" + "0011" + "0010" + "0000")
CASES = [
    (ER_AAC_LTP, "audio object type 19 (ER AAC LTP)"),
    (ER_PARAMETRIC, "audio object type 27 (ER Parametric)"),
    (RESERVED_73, "audio object type 73 (reserved)"),
]


def config(data: bytes) -> AudioConfig:
    return AudioConfig(AudioSpecificConfig.parse(data))


@pytest.mark.parametrize(("data", "described"), CASES)
def test_mpegts_leaves_the_audio_out_and_keeps_the_video(
    data: bytes, described: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = MemoryStorage()
    with caplog.at_level(logging.WARNING, logger="refserver.hls.segmenter"):
        segmenter = HlsSegmenter(storage, video=VIDEO, audio=config(data), name="cam")
        for frame in av_frames(30 * 3):
            segmenter.push(frame)
        segmenter.finish()
    reason = f"{described} cannot be carried in ADTS"
    assert segmenter.audio_left_out == reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [(r.getMessage(), r.__dict__["reason"], r.__dict__["stream"]) for r in warnings] == [
        ("HLS leaves the audio out", reason, "cam")
    ]
    playlist = parse(storage.files["index.m3u8"])
    assert len(playlist.segments) == 3
    _, pes = demux(storage.files[playlist.segments[0].uri])
    assert {p.pid for p in pes} == {PID_VIDEO}
    assert sum(p.pid == PID_VIDEO for p in pes) == 30


@pytest.mark.parametrize(("data", "described"), CASES)
def test_fmp4_leaves_the_audio_out_too(data: bytes, described: str) -> None:
    storage = MemoryStorage()
    options = HlsOptions(segment_format="fmp4")
    segmenter = HlsSegmenter(storage, video=VIDEO, audio=config(data), options=options)
    for frame in av_frames(30 * 3):
        segmenter.push(frame)
    segmenter.finish()
    assert segmenter.audio_left_out == (
        f"{described} has a frame length the fMP4 writer does not know, so its sample "
        "durations would be wrong"
    )
    assert b"mp4a" not in storage.files["init-0.mp4"]
    assert len(parse(storage.files["index.m3u8"]).segments) == 3


def test_fmp4_leaves_out_a_rate_its_sample_entry_cannot_hold() -> None:
    segmenter = HlsSegmenter(
        MemoryStorage(),
        video=VIDEO,
        audio=AudioConfig(AudioSpecificConfig.create(96000, 2)),
        options=HlsOptions(segment_format="fmp4"),
    )
    reason = "a sample rate of 96000 Hz does not fit the mp4a sample entry"
    assert segmenter.audio_left_out == reason


def test_audio_that_becomes_carriable_comes_back_after_a_discontinuity() -> None:
    storage = MemoryStorage()
    segmenter = HlsSegmenter(storage, video=VIDEO, audio=config(ER_AAC_LTP))
    frames = list(av_frames(30 * 4))
    for frame in frames[: len(frames) // 2]:
        segmenter.push(frame)
    segmenter.configure(VIDEO, config(ER_PARAMETRIC))  # still left out: no discontinuity
    assert segmenter.stats.discontinuities == 0
    segmenter.configure(VIDEO, AUDIO)
    assert segmenter.audio_left_out is None
    for frame in frames[len(frames) // 2 :]:
        segmenter.push(frame)
    segmenter.finish()
    playlist = parse(storage.files["index.m3u8"])
    _, last = demux(storage.files[playlist.segments[-1].uri])
    assert {p.pid for p in last} == {PID_VIDEO, PID_AUDIO}
    assert segmenter.stats.discontinuities == 1


def test_audio_only_that_cannot_be_carried_writes_nothing_and_raises_nothing() -> None:
    storage = MemoryStorage()
    segmenter = HlsSegmenter(storage, audio=config(ER_AAC_LTP))
    for n in range(200):
        segmenter.push(Frame.audio(n * 1920, b"\x21" * 50))
    segmenter.finish()
    assert storage.files == {}
    assert segmenter.playlist is None


def test_an_rtmp_publisher_with_er_aac_ltp_gets_video_only_and_the_api_says_why(
    tmp_path: Path,
) -> None:
    tracks = FlvTracks()
    # FLV audio tag: SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo; AACPacketType 0.
    assert tracks.audio_tag(0, b"\xaf\x00" + ER_AAC_LTP) is None
    assert tracks.audio is not None
    registry = StreamRegistry(tmp_path, HlsOptions())
    stream = registry.claim("door", PublisherInfo("127.0.0.1:5000", "rtmp", 0.0, 1))
    stream.configure(VIDEO, tracks.audio)
    frames = list(av_frames(30 * 3))
    for frame in frames:
        stream.push(frame, 100)
    assert stream.describe_tracks() == {
        "video": "h264",
        "audio": None,
        "audio_left_out": "audio object type 19 (ER AAC LTP) cannot be carried in ADTS",
    }
    described = stream.describe(0.0)
    audio_frames = sum(f.kind is FrameKind.AUDIO for f in frames)
    assert described["frames"] == {"video": 90, "audio": audio_frames}
    assert described["bytes"] == 100 * len(frames)
    hls = described["hls"]
    assert isinstance(hls, dict)
    assert hls["segments_written"] == 2  # the third is still open
