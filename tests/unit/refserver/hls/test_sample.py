"""The packager fed with a real encoded sample (H.264 with B-frames + AAC)."""

from __future__ import annotations

from fractions import Fraction

from camsim.media.loader import MediaKind, load
from refserver.hls import AudioConfig, Frame, HlsSegmenter, MemoryStorage, VideoConfig
from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import is_irap, split_annexb
from wire.hls import parse
from wire.hls.validate import Reload, check_reloads, only_errors
from wire.ts import PID_PMT, PID_VIDEO, demux


def test_real_sample_segments(make_test_sample):
    sample = load(make_test_sample(duration=Fraction(4)))
    assert sample.video is not None
    assert sample.audio is not None
    now = [1_700_000_000.0]
    storage = MemoryStorage()
    segmenter = HlsSegmenter(
        storage,
        video=VideoConfig(sample.video.codec, sample.video.parameter_sets),
        audio=AudioConfig(AudioSpecificConfig.parse(sample.audio.asc)),
        clock=lambda: now[0],
    )
    reloads: list[Reload] = []
    for unit in sample.loop(4):
        now[0] = 1_700_000_000.0 + float(unit.decode_time)
        if unit.kind is MediaKind.VIDEO:
            segmenter.push(Frame.video(unit.pts, unit.dts, unit.nalus, unit.keyframe))
        else:
            segmenter.push(Frame.audio(unit.pts * 90000 // unit.clock_rate, unit.data))
        body = storage.files.get("index.m3u8")
        if body is not None and (not reloads or reloads[-1].body != body):
            reloads.append(Reload(now[0], body))
    segmenter.finish()
    playlist = parse(storage.files["index.m3u8"])
    assert [s.duration for s in playlist.segments] == [2.0] * 6
    assert playlist.media_sequence == 2
    assert only_errors(check_reloads(reloads)) == []
    for segment in playlist.segments:
        demuxer, packets = demux(storage.files[segment.uri])
        assert demuxer.first_pids == [0, PID_PMT]
        assert demuxer.continuity_errors == []
        first = next(p for p in packets if p.pid == PID_VIDEO)
        assert first.random_access
        assert any(is_irap(sample.video.codec, nal) for nal in split_annexb(first.data))
