"""The packager writing fragmented MP4 (CMAF) segments."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.media.loader import MediaKind, load
from refserver.config import ConfigError, ServerConfig, from_mapping
from refserver.hls import AudioConfig, Frame, HlsOptions, HlsSegmenter, MemoryStorage, VideoConfig
from refserver.http import HLS_FILE, SEGMENT_TYPES
from tests.conftest import SampleFactory
from tests.unit.refserver.hls.streams import AUDIO, FRAME_TICKS, PPS, SPS, SPS_OTHER, av_frames
from tests.unit.refserver.hls.test_segmenter import Recorder
from wire.codec.aac import AudioSpecificConfig
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.nal import VideoCodec
from wire.fmp4 import Box, Tfdt, Trun, walk
from wire.hls import InitSection
from wire.hls.validate import Reload, check_reloads, only_errors


def fragments(segment: bytes) -> dict[int, tuple[int, Trun]]:
    """Track ID -> (baseMediaDecodeTime, trun) of a media segment."""
    kinds = [b.kind for b in walk(segment)]
    assert kinds == ["styp", "moof", "mdat"]
    moof = next(b for b in walk(segment) if b.kind == "moof")
    out = {}
    for traf in (b for b in moof.children() if b.kind == "traf"):
        track_id = int.from_bytes(traf.child("tfhd").full_header()[2][:4], "big")
        out[track_id] = (
            Tfdt.parse(traf.child("tfdt")).base_media_decode_time,
            Trun.parse(traf.child("trun")),
        )
    return out


def avcc(init: bytes) -> Box:
    moov = next(b for b in walk(init) if b.kind == "moov")
    trak = moov.child("trak")
    stsd = trak.child("mdia").child("minf").child("stbl").child("stsd")
    (avc1,) = walk(stsd.full_header()[2][4:])
    (config,) = walk(avc1.payload[78:])
    return config


def test_options_name_segments_by_format():
    assert HlsOptions().segment_file(3) == "segment3.ts"
    assert HlsOptions(segment_format="fmp4").segment_file(3) == "seg-3.m4s"
    assert HlsOptions(segment_format="fmp4", segment_name="a{sequence}.m4s").segment_file(4) == (
        "a4.m4s"
    )
    with pytest.raises(ValueError, match=r"^HLS segment format 'mp4' is not one of mpegts, fmp4$"):
        HlsOptions(segment_format="mp4")


def test_config_and_http_know_the_format():
    config = from_mapping({"hls": {"segment_format": "fmp4"}}, ServerConfig(), root=Path("."))
    assert config.hls.segment_format == "fmp4"
    with pytest.raises(ConfigError, match=r"^hls: HLS segment format 'cmaf' is not one of"):
        from_mapping({"hls": {"segment_format": "cmaf"}}, ServerConfig(), root=Path("."))
    for name, mime in [("init-0.mp4", "video/mp4"), ("seg-12.m4s", "video/mp4")]:
        match = HLS_FILE.fullmatch(name)
        assert match is not None
        assert SEGMENT_TYPES[match.group(1)] == mime


def test_fmp4_playlist_map_version_and_fragment_timing():
    recorder = Recorder(segment_format="fmp4")
    recorder.push(av_frames(30 * 3 + 10))
    recorder.segmenter.finish()
    playlist = recorder.playlist
    body = recorder.storage.files["index.m3u8"].decode()
    assert "#EXT-X-VERSION:6\n" in body
    assert body.count('#EXT-X-MAP:URI="init-0.mp4"') == 1
    assert playlist.version == 6 == playlist.required_version()
    assert [s.uri for s in playlist.segments] == [
        "seg-0.m4s",
        "seg-1.m4s",
        "seg-2.m4s",
        "seg-3.m4s",
    ]
    assert {s.init_section for s in playlist.segments} == {InitSection("init-0.mp4")}
    assert recorder.storage.writes[0] == "init-0.mp4"
    assert sum(s.duration for s in playlist.segments) == pytest.approx(100 * FRAME_TICKS / 90000)

    expected_video_start = 0
    for segment in playlist.segments:
        tracks = fragments(recorder.storage.files[segment.uri])
        video_start, video_trun = tracks[1]
        assert video_start == expected_video_start
        durations = [e.duration or 0 for e in video_trun.entries]
        assert set(durations) == {FRAME_TICKS}
        assert sum(durations) / 90000 == pytest.approx(segment.duration)
        assert video_trun.entries[0].flags == 0x02000000
        assert {e.flags for e in video_trun.entries[1:]} == {0x01010000}
        assert {e.composition_offset for e in video_trun.entries} == {0}
        expected_video_start += sum(durations)
        audio_start, audio_trun = tracks[2]
        # The first AAC frame at or after the segment's start, 1920 ticks (1024 samples) apart.
        assert audio_start == -(-video_start // 1920) * 1024
        assert {(e.duration, e.size) for e in audio_trun.entries} == {(1024, 50)}
    assert only_errors(check_reloads(recorder.reloads)) == []


def test_fmp4_configuration_change_writes_a_new_init_segment():
    recorder = Recorder(segment_format="fmp4")
    recorder.push(av_frames(60))
    recorder.segmenter.configure(VideoConfig(VideoCodec.H264, (SPS_OTHER, PPS)), AUDIO)
    recorder.push(av_frames(60, start=60 * FRAME_TICKS))
    recorder.segmenter.finish()
    playlist = recorder.playlist
    body = recorder.storage.files["index.m3u8"].decode()
    lines = body.splitlines()
    assert lines.count('#EXT-X-MAP:URI="init-0.mp4"') == 1
    new_map = lines.index('#EXT-X-MAP:URI="init-2.mp4"')
    assert lines[new_map + 1] == "#EXT-X-DISCONTINUITY"
    assert lines.index('#EXT-X-MAP:URI="init-0.mp4"') < new_map
    assert [(s.discontinuity, s.init_section) for s in playlist.segments] == [
        (False, InitSection("init-0.mp4")),
        (False, InitSection("init-0.mp4")),
        (True, InitSection("init-2.mp4")),
        (False, InitSection("init-2.mp4")),
    ]
    first = AvcDecoderConfigurationRecord.build([SPS], [PPS]).serialize()
    second = AvcDecoderConfigurationRecord.build([SPS_OTHER], [PPS]).serialize()
    assert avcc(recorder.storage.files["init-0.mp4"]) == Box("avcC", first)
    assert avcc(recorder.storage.files["init-2.mp4"]) == Box("avcC", second)
    assert only_errors(check_reloads(recorder.reloads)) == []

    # The old init segment goes once the last segment made for it has left and expired.
    recorder.push(av_frames(240, start=120 * FRAME_TICKS))
    recorder.clock.now += 3600
    recorder.segmenter.expire()
    assert "init-0.mp4" not in recorder.storage.files
    assert "init-2.mp4" in recorder.storage.files
    assert only_errors(check_reloads(recorder.reloads)) == []


def test_unused_init_segment_is_deleted_at_once():
    storage = MemoryStorage()
    video = VideoConfig(VideoCodec.H264, (SPS, PPS))
    segmenter = HlsSegmenter(storage, video=video, options=HlsOptions(segment_format="fmp4"))
    segmenter.configure(VideoConfig(VideoCodec.H264, (SPS_OTHER, PPS)), None)
    # No playlist ever named the first: the second takes its name, with the new bytes.
    assert storage.names() == ["init-0.mp4"]
    second = AvcDecoderConfigurationRecord.build([SPS_OTHER], [PPS]).serialize()
    assert avcc(storage.files["init-0.mp4"]) == Box("avcC", second)


def test_a_continued_stream_never_reuses_an_init_segment_name():
    # A restart (or a republish after the end) continues at sequence 40: the old stream's
    # init-0.mp4 may still sit in a player or a cache, so the new one is not named that.
    recorder = Recorder(segment_format="fmp4")
    recorder.segmenter.continue_from(40, 3)
    assert recorder.storage.names() == ["init-40.mp4"]
    recorder.push(av_frames(60))
    playlist = recorder.playlist
    assert playlist is not None
    assert playlist.segments[0].uri.endswith("40.m4s")
    assert {s.init_section for s in playlist.segments} == {InitSection("init-40.mp4")}
    assert "init-0.mp4" not in recorder.storage.files


def test_fmp4_real_sample_with_b_frames(make_test_sample: SampleFactory):
    sample = load(make_test_sample(duration=Fraction(4), bframes=2))
    assert sample.video is not None
    assert sample.audio is not None
    now = [1_700_000_000.0]
    storage = MemoryStorage()
    segmenter = HlsSegmenter(
        storage,
        video=VideoConfig(sample.video.codec, sample.video.parameter_sets),
        audio=AudioConfig(AudioSpecificConfig.parse(sample.audio.asc)),
        options=HlsOptions(segment_format="fmp4"),
        clock=lambda: now[0],
    )
    reloads: list[Reload] = []
    pictures = 0
    for unit in sample.loop(3):
        now[0] = 1_700_000_000.0 + float(unit.decode_time)
        if unit.kind is MediaKind.VIDEO:
            pictures += 1
            segmenter.push(Frame.video(unit.pts, unit.dts, unit.nalus, unit.keyframe))
        else:
            segmenter.push(Frame.audio(unit.pts * 90000 // unit.clock_rate, unit.data))
        body = storage.files.get("index.m3u8")
        if body is not None and (not reloads or reloads[-1].body != body):
            reloads.append(Reload(now[0], body))
    segmenter.finish()
    assert len(reloads) >= 5
    assert only_errors(check_reloads(reloads)) == []
    playlist = segmenter.playlist
    assert playlist is not None
    assert len(playlist.segments) == 6
    segments = [fragments(storage.files[s.uri]) for s in playlist.segments]
    assert sum(len(tracks[1][1].entries) for tracks in segments) == pictures
    offsets = [e.composition_offset for tracks in segments for e in tracks[1][1].entries]
    assert any(offset != offsets[0] for offset in offsets)  # B-frames: reordered pictures
    for earlier, later in itertools.pairwise(segments):
        start, trun = earlier[1]
        assert start + sum(e.duration or 0 for e in trun.entries) == later[1][0]
