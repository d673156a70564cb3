"""Samples made with PyAV: what a decoder sees in them."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from itertools import count
from pathlib import Path

import av
import numpy as np
import pytest

from camsim.media.loader import load
from camsim.media.spec import H264Profile, SampleSpec
from tests.conftest import SMALL_SPEC, SampleFactory
from wire.codec.nal import VideoCodec
from wire.codec.stamp import STAMP_UUID, Stamp


def side_data_entries(frame: av.VideoFrame) -> Iterator[bytes]:
    """Every side data entry of a decoded picture, in order, several of one type included.

    Only an integer position reaches each entry in every PyAV release: iterating the container
    yields the entries before 18.1.1 and their types from it on, its length counts types from
    18.1.1, and a slice works only from 18.1.1.
    """
    for position in count():
        try:
            yield bytes(frame.side_data[position])
        except IndexError:
            return


def decoded_stamp_indexes(path: Path) -> list[int]:
    """Frame indexes from the SEI side data FFmpeg's decoder attaches to each decoded picture."""
    indexes = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            for data in side_data_entries(frame):
                if data.startswith(STAMP_UUID):
                    indexes.append(Stamp.parse(data).frame_index)
    return indexes


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_decoder_sees_every_stamp_in_order(make_test_sample: SampleFactory, codec: VideoCodec):
    path = make_test_sample(codec=codec)
    assert decoded_stamp_indexes(path) == list(range(SMALL_SPEC.frame_count))


def test_stamps_follow_presentation_order_with_b_frames(make_test_sample: SampleFactory):
    path = make_test_sample(bframes=2)
    sample = load(path)
    assert any(u.pts != u.dts for u in sample.video_units)  # really reordered
    assert decoded_stamp_indexes(path) == list(range(SMALL_SPEC.frame_count))


@pytest.mark.parametrize(
    ("profile", "name"),
    [(H264Profile.BASELINE, "Baseline"), (H264Profile.MAIN, "Main"), (H264Profile.HIGH, "High")],
)
def test_h264_profiles(make_test_sample: SampleFactory, profile: H264Profile, name: str):
    track = load(make_test_sample(profile=profile, audio=False)).video
    assert track is not None
    assert name in track.profile


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_size_rate_and_gop_as_requested(make_test_sample: SampleFactory, codec: VideoCodec):
    path = make_test_sample(
        codec=codec,
        width=352,
        height=288,
        fps=Fraction(25),
        gop_seconds=Fraction(1),
        duration=Fraction(3),
        audio=False,
    )
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (352, 288)
        assert stream.average_rate == 25
        keyframes = [i for i, p in enumerate(container.demux(stream)) if p.size and p.is_keyframe]
    assert keyframes == [0, 25, 50]


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_same_spec_gives_same_bytes(tmp_path: Path, codec: VideoCodec):
    from camsim.media.make import make_sample

    spec = SMALL_SPEC.with_changes(codec=codec, duration=Fraction(1))
    first, second = (make_sample(spec, tmp_path / f"{i}.mp4").read_bytes() for i in range(2))
    if first != second:
        at = next(
            (n for n, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
            min(len(first), len(second)),
        )
        pytest.fail(
            f"the two files differ from byte {at} of {len(first)} and {len(second)}: "
            f"{first[max(at - 16, 0) : at + 16].hex()} vs {second[max(at - 16, 0) : at + 16].hex()}"
        )


def test_bitrate_close_to_target(make_test_sample: SampleFactory):
    path = make_test_sample(width=640, height=360, bitrate=1_000_000, audio=False)
    sample = load(path)
    bits = sum(u.size for u in sample.video_units) * 8
    assert 0.7 < bits / float(sample.duration) / 1_000_000 < 1.2


def test_audio_is_aac_lc_48k_stereo_with_a_pulse_each_second(make_test_sample: SampleFactory):
    path = make_test_sample()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.codec_context.profile == "LC"
        assert stream.sample_rate == 48_000
        assert stream.codec_context.channels == 2
        pcm = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
    # RMS per 10 ms: the pulse (-6 dBFS) stands well above the tone (-20 dBFS) at each second.
    window = 480
    rms = np.sqrt(np.mean(pcm[: len(pcm) // window * window].reshape(-1, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > 0.2)
    seconds = sorted({int(i * window / 48_000) for i in loud})
    assert seconds == list(range(int(SMALL_SPEC.duration)))
    for second in seconds:
        first_loud = loud[loud * window >= second * 48_000][0] * window / 48_000
        assert first_loud - second < 0.015  # the pulse starts on the second


def test_sync_square_flashes_on_the_first_frame_of_each_second(make_test_sample: SampleFactory):
    spec = SMALL_SPEC
    path = make_test_sample(audio=False)
    size = spec.height // 10
    bright = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            luma = frame.to_ndarray(format="gray")
            square = luma[spec.height - size - 4 : spec.height - 12, spec.width - size - 4 : -12]
            if square.mean() > 128:
                bright.append(i)
    fps = int(spec.fps)
    assert bright == [n * fps for n in range(int(spec.duration))]


def test_spec_rejects_impossible_settings():
    with pytest.raises(ValueError, match="need even sizes"):
        SampleSpec(width=321)
    with pytest.raises(ValueError, match="Baseline has no B-frames"):
        SampleSpec(profile=H264Profile.BASELINE, bframes=2)
    with pytest.raises(ValueError, match=r"outside 1\.\.240"):
        SampleSpec(fps=Fraction(500))
