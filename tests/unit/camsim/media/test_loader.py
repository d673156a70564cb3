"""The loader: any PyAV-readable file to access units, and back."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import pytest

from camsim.media.loader import LoaderError, MediaKind, MediaSample, load
from tests.conftest import SMALL_SPEC, SampleFactory
from wire.codec.aac import AudioSpecificConfig, adts_frame
from wire.codec.nal import H264_NAL_AUD, H265_NAL_AUD, VideoCodec, join_annexb, nal_type


def remux_to_mpegts(sample: MediaSample, out: Path) -> Path:
    """Write the sample's units to MPEG-TS with PyAV: Annex B video with parameter sets before
    each keyframe, ADTS audio, the way a camera or encoder would."""
    assert sample.video is not None
    assert sample.audio is not None
    with av.open(str(out), "w", format="mpegts") as container:
        name = "h264" if sample.video.codec is VideoCodec.H264 else "hevc"
        vstream = container.add_stream(name, rate=sample.video.fps)
        astream = container.add_stream("aac", rate=sample.audio.sample_rate)
        asc = AudioSpecificConfig.parse(sample.audio.asc)
        for unit in sample.units:
            if unit.kind is MediaKind.VIDEO:
                nalus = (sample.video.parameter_sets if unit.keyframe else ()) + unit.nalus
                packet = av.Packet(join_annexb(nalus))
                packet.stream = vstream
            else:
                packet = av.Packet(adts_frame(asc, unit.data))
                packet.stream = astream
            packet.time_base = Fraction(1, unit.clock_rate)
            packet.pts, packet.dts = unit.pts, unit.dts
            packet.is_keyframe = unit.keyframe
            container.mux(packet)
    return out


def count_decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_tracks_and_parameter_sets(make_test_sample: SampleFactory, codec: VideoCodec):
    sample = load(make_test_sample(codec=codec))
    assert sample.video is not None
    assert sample.audio is not None
    assert (sample.video.width, sample.video.height) == (320, 240)
    assert sample.video.fps == 15
    assert len(sample.video.parameter_sets) == (2 if codec is VideoCodec.H264 else 3)
    assert sample.video.codec_string.startswith("avc1." if codec is VideoCodec.H264 else "hvc1.")
    assert (sample.audio.sample_rate, sample.audio.channels) == (48_000, 2)
    assert sample.audio.codec_string == "mp4a.40.2"
    assert sample.duration == SMALL_SPEC.duration


def test_units_are_in_decode_order_from_zero(make_test_sample: SampleFactory):
    sample = load(make_test_sample())
    times = [u.decode_time for u in sample.units]
    assert times == sorted(times)
    assert times[0] == 0
    video = sample.video_units
    assert [u.frame_index for u in video] == list(range(SMALL_SPEC.frame_count))
    assert all(u.dts == i * 6000 for i, u in enumerate(video))  # 90 kHz at 15 fps
    assert video[0].keyframe
    assert [i for i, u in enumerate(video) if u.keyframe] == [0, 30]
    audio = sample.audio_units
    assert all(b.pts - a.pts == 1024 for a, b in itertools.pairwise(audio))


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_remuxed_units_decode_to_the_same_frame_count(
    make_test_sample: SampleFactory, codec: VideoCodec, tmp_path: Path
):
    path = make_test_sample(codec=codec)
    sample = load(path)
    ts = remux_to_mpegts(sample, tmp_path / "remux.ts")
    assert count_decoded_frames(ts) == count_decoded_frames(path) == SMALL_SPEC.frame_count

    # And the Annex B / ADTS file loads back to the same units.
    again = load(ts)
    assert sample.video is not None
    assert sample.audio is not None
    assert again.video == sample.video
    # ADTS has no room for the encoder's explicit "no SBR" extension: same meaning, 2 bytes.
    assert again.audio is not None
    assert AudioSpecificConfig.parse(again.audio.asc).serialize() == sample.audio.asc[:2]
    assert (again.audio.sample_rate, again.audio.channels, again.audio.codec_string) == (
        sample.audio.sample_rate,
        sample.audio.channels,
        sample.audio.codec_string,
    )
    # FFmpeg's MPEG-TS muxer adds an access unit delimiter in front of each picture.
    aud = H264_NAL_AUD if codec is VideoCodec.H264 else H265_NAL_AUD
    assert [tuple(n for n in u.nalus if nal_type(codec, n) != aud) for u in again.video_units] == [
        (sample.video.parameter_sets if u.keyframe else ()) + u.nalus for u in sample.video_units
    ]
    assert [u.data for u in again.audio_units] == [u.data for u in sample.audio_units]
    assert [u.frame_index for u in again.video_units] == list(range(SMALL_SPEC.frame_count))


def test_loop_timestamps_are_continuous(make_test_sample: SampleFactory):
    sample = load(make_test_sample())
    period = sample.duration
    units = list(sample.loop(3))
    video = [u for u in units if u.kind is MediaKind.VIDEO]
    audio = [u for u in units if u.kind is MediaKind.AUDIO]
    assert len(video) == 3 * SMALL_SPEC.frame_count
    assert all(b.dts - a.dts == 6000 for a, b in itertools.pairwise(video))
    assert [u.frame_index for u in video] == list(range(SMALL_SPEC.frame_count)) * 3
    # Audio never overlaps itself and each repetition starts exactly one period later.
    assert all(a.pts + a.duration <= b.pts for a, b in itertools.pairwise(audio))
    starts = [u.pts for u in audio if Fraction(u.pts, 48_000) % period == 0]
    assert starts == [0, int(period * 48_000), int(2 * period * 48_000)]
    # Sent in decode order across tracks.
    times = [u.decode_time for u in units]
    assert times == sorted(times)


def test_loop_forever_is_lazy(make_test_sample: SampleFactory):
    sample = load(make_test_sample())
    far = next(itertools.islice(sample.loop(), 50 * len(sample.units), None))
    assert far.decode_time >= 49 * sample.duration


def test_video_only_and_b_frames(make_test_sample: SampleFactory):
    sample = load(make_test_sample(audio=False, bframes=2))
    assert sample.audio is None
    assert min(u.dts for u in sample.units) == 0
    assert all(u.pts >= u.dts for u in sample.units)


def test_not_a_media_file(tmp_path: Path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video")
    with pytest.raises(LoaderError, match=r"notes\.mp4: cannot open"):
        load(path)


def test_truncated_file_is_a_loader_error_not_a_crash(
    make_test_sample: SampleFactory, tmp_path: Path
):
    data = make_test_sample().read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(LoaderError):
        load(cut)


def test_unsupported_codecs_are_named(tmp_path: Path):
    path = tmp_path / "mpeg4.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 64, 64
        for i in range(3):
            frame = av.VideoFrame(64, 64, "yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(
        LoaderError, match=r"no H\.264, H\.265, AAC, G\.711 or Opus track \(found video:mpeg4\)"
    ):
        load(path)
