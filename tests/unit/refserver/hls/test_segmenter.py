from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refserver.hls import Frame, FrameKind, HlsOptions, HlsSegmenter, MemoryStorage, VideoConfig
from refserver.hls.retention import Retention
from refserver.hls.segmenter import MAX_AUDIO_LEAD
from tests.unit.refserver.hls.streams import (
    AUDIO,
    AUDIO_TICKS,
    FRAME_TICKS,
    PPS,
    SPS,
    SPS_OTHER,
    VIDEO,
    av_frames,
    video_frames,
)
from wire.codec.aac import split_adts
from wire.codec.nal import VideoCodec, is_irap, split_annexb
from wire.hls import MediaPlaylist, check_playlist, parse
from wire.hls.validate import Reload, check_reloads, only_errors
from wire.ts import PID_PMT, demux


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Drives a segmenter and keeps every playlist version it published, as reloads."""

    def __init__(self, **options: object) -> None:
        self.clock = FakeClock()
        self.storage = MemoryStorage()
        self.segmenter = HlsSegmenter(
            self.storage,
            video=VIDEO,
            audio=AUDIO,
            options=HlsOptions(**options),  # type: ignore[arg-type]
            clock=self.clock,
        )
        self.reloads: list[Reload] = []
        self.start = self.clock.now

    def push(self, frames) -> None:
        for frame in frames:
            # The clock follows the media: frames arrive in real time.
            self.clock.now = max(self.clock.now, self.start + frame.dts / 90000)
            before = self.storage.files.get("index.m3u8")
            self.segmenter.push(frame)
            after = self.storage.files.get("index.m3u8")
            if after is not None and after != before:
                self.reloads.append(Reload(self.clock.now, after))

    @property
    def playlist(self) -> MediaPlaylist:
        return parse(self.storage.files["index.m3u8"])


def test_segments_cut_at_keyframes_with_exact_durations():
    recorder = Recorder()
    recorder.push(av_frames(30 * 5 + 10))  # five GOPs of 2 s and a bit
    recorder.segmenter.finish()
    playlist = recorder.playlist
    assert [s.duration for s in playlist.segments] == [2.0] * 5 + [
        round(10 * FRAME_TICKS / 90000, 6)
    ]
    assert sum(s.duration for s in playlist.segments) == pytest.approx(160 * FRAME_TICKS / 90000)
    assert playlist.target_duration == 2
    assert playlist.independent_segments
    for number, segment in playlist.numbered():
        demuxer, packets = demux(recorder.storage.files[segment.uri])
        assert demuxer.first_pids == [0, PID_PMT]
        first_video = next(p for p in packets if p.pid == 0x100)
        assert first_video.random_access
        assert first_video.pts == number * 30 * FRAME_TICKS
        nalus = split_annexb(first_video.data)
        assert nalus[1:3] == [SPS, PPS]
        assert is_irap(VideoCodec.H264, nalus[-1])


def test_timestamps_and_continuity_run_across_segments():
    recorder = Recorder()
    recorder.push(av_frames(30 * 4))
    recorder.segmenter.finish()
    stream = b"".join(recorder.storage.files[s.uri] for s in recorder.playlist.segments)
    demuxer, packets = demux(stream)
    assert demuxer.continuity_errors == []
    video = [p.pts for p in packets if p.pid == 0x100]
    # Several AAC frames share a PES: each is timed by the PES's PTS and the frames before it.
    audio = [
        p.pts + k * AUDIO_TICKS
        for p in packets
        if p.pid == 0x101 and p.pts is not None
        for k in range(len(list(split_adts(p.data))))
    ]
    assert video == [n * FRAME_TICKS for n in range(120)]
    assert len(audio) > 200
    assert audio == [n * AUDIO_TICKS for n in range(len(audio))]


def segment_media(recorder: Recorder) -> list[tuple[list[int], list[int]]]:
    """Each listed segment's video PTS and audio frame PTS, in file order."""
    media = []
    for segment in recorder.playlist.segments:
        _, packets = demux(recorder.storage.files[segment.uri])
        video = [p.pts for p in packets if p.pid == 0x100 and p.pts is not None]
        audio = [
            p.pts + k * AUDIO_TICKS
            for p in packets
            if p.pid == 0x101 and p.pts is not None
            for k in range(len(list(split_adts(p.data))))
        ]
        media.append((video, audio))
    return media


def arriving(frames: list[Frame], video_delays: list[int], audio_delays: list[int]) -> list[Frame]:
    """``frames`` in the order they arrive when each track's frame ``n`` is sent at its DTS and
    takes ``delays[n % len(delays)]`` ticks to come; each track keeps its own order."""
    arrivals: list[tuple[int, int, Frame]] = []
    last = {FrameKind.VIDEO: 0, FrameKind.AUDIO: 0}
    count = {FrameKind.VIDEO: 0, FrameKind.AUDIO: 0}
    for order, frame in enumerate(frames):
        delays = video_delays if frame.kind is FrameKind.VIDEO else audio_delays
        at = max(last[frame.kind], frame.dts + delays[count[frame.kind] % len(delays)])
        last[frame.kind] = at
        count[frame.kind] += 1
        arrivals.append((at, order, frame))
    return [frame for _, _, frame in sorted(arrivals, key=lambda a: (a[0], a[1]))]


@pytest.mark.parametrize("video_late_ms", [0, 30, 107, 500])
def test_audio_ahead_of_the_video_waits_for_its_segment(video_late_ms: int):
    """A camera's audio comes before its large keyframe: segments still split the audio at the
    keyframe's PTS, not where the keyframe arrived."""
    recorder = Recorder()
    frames = list(av_frames(30 * 4 + 10))
    recorder.push(arriving(frames, [video_late_ms * 90], [0]))
    recorder.segmenter.finish()
    media = segment_media(recorder)
    starts = [video[0] for video, _ in media]
    assert starts == [n * 30 * FRAME_TICKS for n in range(len(media))]
    for (video, audio), end in zip(media, [*starts[1:], None], strict=True):
        assert video[0] <= audio[0] < video[0] + AUDIO_TICKS
        assert end is None or audio[-1] < end
    every_audio = [pts for _, audio in media for pts in audio]
    assert every_audio == [f.pts for f in frames if f.kind is FrameKind.AUDIO]
    assert recorder.segmenter.stats.frames_dropped == 0


@settings(max_examples=60, deadline=None)
@given(
    video_delays=st.lists(st.integers(0, 40_000), min_size=1, max_size=12),
    audio_delays=st.lists(st.integers(0, 40_000), min_size=1, max_size=12),
)
def test_audio_is_never_lost_nor_put_in_a_segment_before_its_time(
    video_delays: list[int], audio_delays: list[int]
):
    """Tracks delayed by up to 444 ms each, independently: every audio frame is written once, in
    order; none lands in a segment that ends before it, and one lands in a segment that starts
    after it only when it came after that segment's keyframe."""
    frames = list(av_frames(30 * 3 + 7))
    arrival = arriving(frames, video_delays, audio_delays)
    recorder = Recorder()
    recorder.push(arrival)
    recorder.segmenter.finish()
    media = segment_media(recorder)
    every_audio = [pts for _, audio in media for pts in audio]
    assert every_audio == [f.pts for f in frames if f.kind is FrameKind.AUDIO]
    position = {(f.kind, f.pts): n for n, f in enumerate(arrival)}
    starts = [video[0] for video, _ in media]
    for index, (video, audio) in enumerate(media):
        end = starts[index + 1] if index + 1 < len(starts) else None
        keyframe_came = position[(FrameKind.VIDEO, video[0])]
        for pts in audio:
            assert end is None or pts < end
            if pts < video[0]:
                assert position[(FrameKind.AUDIO, pts)] > keyframe_came


def test_audio_goes_on_without_the_video_after_a_bounded_wait():
    recorder = Recorder()
    recorder.push(av_frames(40))
    segmenter = recorder.segmenter
    audio_pts = 40 * FRAME_TICKS
    for _ in range(3 * 90000 // AUDIO_TICKS):  # 3 s of audio, no video
        recorder.push([Frame.audio(audio_pts, b"\x21" * 50)])
        audio_pts += AUDIO_TICKS
        assert len(segmenter._held_audio) * AUDIO_TICKS <= MAX_AUDIO_LEAD
    segmenter.finish()
    every_audio = [pts for _, audio in segment_media(recorder) for pts in audio]
    assert every_audio == list(range(0, audio_pts, AUDIO_TICKS))


def test_held_audio_stays_before_a_discontinuity():
    recorder = Recorder()
    frames = list(av_frames(45))
    recorder.push(arriving(frames, [20_000], [0]))
    recorder.segmenter.discontinuity()
    recorder.push(av_frames(60, start=10 * 90000))
    recorder.segmenter.finish()
    playlist = recorder.playlist
    media = segment_media(recorder)
    assert [s.discontinuity for s in playlist.segments] == [False, False, True, False]
    before = [pts for _, audio in media[:2] for pts in audio]
    assert before == [f.pts for f in frames if f.kind is FrameKind.AUDIO]
    assert all(pts >= 10 * 90000 for _, audio in media[2:] for pts in audio)


def test_sliding_window_and_reloads_pass_the_validator():
    recorder = Recorder()
    recorder.push(av_frames(30 * 12))
    playlist = recorder.playlist
    assert len(playlist.segments) == 6
    assert playlist.media_sequence == 5  # 11 complete, the 12th still open
    assert next(s.uri for s in playlist.segments) == "segment5.ts"
    findings = check_reloads(recorder.reloads)
    assert only_errors(findings) == []
    assert {f.rule for f in findings} <= {"apple-six-segments", "live-three-target-durations"}
    assert check_playlist(recorder.storage.files["index.m3u8"]) == []


def test_window_never_drops_below_three_target_durations():
    recorder = Recorder(window=1)
    recorder.push(av_frames(30 * 8))
    assert len(recorder.playlist.segments) == 3
    assert only_errors(check_reloads(recorder.reloads)) == []


def test_explicit_discontinuity():
    recorder = Recorder()
    recorder.push(av_frames(45))  # one full GOP and half of the next
    recorder.segmenter.discontinuity()
    recorder.push(av_frames(30 * 9, start=10 * 90000))
    playlist = recorder.playlist
    segments = list(playlist.segments)
    assert recorder.segmenter.stats.discontinuities == 1
    # 2 s + 1 s before the restart, the restart marked, the window moved past them later.
    assert playlist.media_sequence == 4
    assert playlist.discontinuity_sequence == 1
    assert not any(s.discontinuity for s in segments)
    assert only_errors(check_reloads(recorder.reloads)) == []
    first_reloads = [parse(r.body) for r in recorder.reloads[:4]]
    assert [s.duration for s in first_reloads[2].segments[:3]] == [2.0, 1.0, 2.0]
    assert [s.discontinuity for s in first_reloads[2].segments[:3]] == [False, False, True]


def test_timestamps_going_back_start_a_discontinuity_at_the_next_keyframe():
    recorder = Recorder()
    recorder.push(av_frames(45))
    # The source restarts at zero, mid-GOP: frames until its next keyframe are dropped.
    recorder.push(video_frames(40, first_index=20))
    stats = recorder.segmenter.stats
    assert stats.discontinuities == 1
    assert stats.frames_dropped == 10
    playlist = recorder.playlist
    assert [s.discontinuity for s in playlist.segments] == [False, False]
    recorder.segmenter.finish()
    assert [s.discontinuity for s in recorder.playlist.segments] == [False, False, True]
    assert [s.duration for s in recorder.playlist.segments] == [2.0, 1.0, 2.0]


def test_parameter_set_change_in_band_is_a_discontinuity():
    recorder = Recorder()
    recorder.push(av_frames(60))
    frames = list(video_frames(60, start=60 * FRAME_TICKS))
    frames[0] = Frame.video(frames[0].pts, frames[0].dts, (SPS_OTHER, PPS, *frames[0].nalus), True)
    recorder.push(frames)
    recorder.segmenter.finish()
    playlist = recorder.playlist
    assert [s.discontinuity for s in playlist.segments] == [False, False, True, False]
    _, packets = demux(recorder.storage.files[playlist.segments[3].uri])
    assert split_annexb(packets[0].data)[1:3] == [SPS_OTHER, PPS]


def test_same_in_band_parameter_sets_change_nothing():
    recorder = Recorder()
    frames = list(video_frames(90))
    frames[30] = Frame.video(frames[30].pts, frames[30].dts, (SPS, PPS, *frames[30].nalus), True)
    recorder.push(frames)
    assert recorder.segmenter.stats.discontinuities == 0


def test_configure_new_codec_is_a_discontinuity():
    recorder = Recorder()
    recorder.push(av_frames(40))
    recorder.segmenter.configure(VideoConfig(VideoCodec.H264, (SPS_OTHER, PPS)), AUDIO)
    recorder.segmenter.configure(VideoConfig(VideoCodec.H264, (SPS_OTHER, PPS)), AUDIO)
    recorder.push(av_frames(60, start=40 * FRAME_TICKS))
    recorder.segmenter.finish()
    assert [s.discontinuity for s in recorder.playlist.segments] == [False, False, True, False]
    assert recorder.segmenter.stats.discontinuities == 1


def test_removed_segments_are_kept_for_the_rfc_retention_time():
    recorder = Recorder()
    recorder.push(av_frames(30 * 8))
    # segment0 left the playlist when segment6 completed (t = 14 s); the longest playlist that
    # listed it held 6 segments (12 s), plus its own 2 s: deletable from t = 28 s.
    assert "segment0.ts" in recorder.storage.files
    removal = recorder.start + 14.0
    recorder.clock.now = removal + 2.0 + 12.0 - 0.001
    recorder.segmenter.expire()
    assert "segment0.ts" in recorder.storage.files
    recorder.clock.now = removal + 2.0 + 12.0
    recorder.segmenter.expire()
    assert "segment0.ts" not in recorder.storage.files
    assert "segment1.ts" in recorder.storage.files
    assert recorder.segmenter.stats.segments_deleted == 1


def test_a_push_deletes_what_expired_by_its_time():
    # As above, segment0 may be deleted from t = 28 s: the first frame pushed then deletes it,
    # none before.
    recorder = Recorder()
    deadline = recorder.start + 14.0 + 2.0 + 12.0
    frames = av_frames(30 * 16)
    while "segment0.ts" not in recorder.storage.files:
        recorder.push([next(frames)])
    previous = recorder.clock.now
    for frame in frames:
        recorder.push([frame])
        if "segment0.ts" not in recorder.storage.files:
            break
        previous = recorder.clock.now
    assert previous < deadline <= recorder.clock.now
    assert recorder.segmenter.stats.segments_deleted == 1
    assert "segment1.ts" in recorder.storage.files


def test_retention_knows_its_next_deadline():
    retention = Retention()
    assert retention.next_deadline == math.inf
    assert retention.removed("b.ts", 2.0, now=100.0) == 102.0
    assert retention.removed("a.ts", 1.0, now=100.0) == 101.0
    assert retention.next_deadline == 101.0
    assert retention.due(100.5) == []
    assert retention.next_deadline == 101.0
    assert retention.due(101.0) == ["a.ts"]
    assert retention.next_deadline == 102.0
    assert retention.due(200.0) == ["b.ts"]
    assert retention.next_deadline == math.inf


def test_program_date_time_from_the_sei_stamp():
    wallclock_us = 1_714_564_800_123_000  # 2024-05-01T12:00:00.123Z
    recorder = Recorder()
    recorder.clock.now = recorder.start = wallclock_us / 1e6 + 0.25
    recorder.push(video_frames(61, wallclock_us=wallclock_us))
    playlist = recorder.playlist
    assert [s.program_date_time for s in playlist.segments] == [
        datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 0, 2, 123000, tzinfo=UTC),
    ]
    latency = recorder.segmenter.stats.last_stamp_latency
    assert latency == pytest.approx(0.25)


def test_program_date_time_without_stamps_follows_the_media_clock():
    recorder = Recorder()
    recorder.push(video_frames(91))
    times = [s.program_date_time for s in recorder.playlist.segments if s.program_date_time]
    assert times[0] == datetime.fromtimestamp(recorder.start, UTC)
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [2.0, 2.0]


def test_target_duration_is_fixed_by_the_first_segment():
    recorder = Recorder()
    recorder.push(video_frames(45 * 2 + 1, gop=45))  # 3 s GOPs
    assert recorder.playlist.target_duration == 3
    recorder.push(video_frames(60 + 1, gop=60, start=91 * FRAME_TICKS, first_index=0))
    assert recorder.playlist.target_duration == 3
    assert recorder.segmenter.stats.target_duration_overruns == 1


def test_audio_only_stream():
    storage = MemoryStorage()
    segmenter = HlsSegmenter(storage, audio=AUDIO, clock=FakeClock())
    for n in range(200):
        segmenter.push(Frame.audio(n * AUDIO_TICKS, b"\x21" * 30))
    segmenter.finish(endlist=True)
    playlist = parse(storage.files["index.m3u8"])
    assert playlist.endlist
    assert [s.duration for s in playlist.segments] == [
        round(94 * AUDIO_TICKS / 90000, 6),
        round(94 * AUDIO_TICKS / 90000, 6),
        round(12 * AUDIO_TICKS / 90000, 6),
    ]


def test_segment_is_written_before_its_playlist():
    recorder = Recorder()
    recorder.push(av_frames(61))
    assert recorder.storage.writes == [
        "segment0.ts",
        "index.m3u8",
        "segment1.ts",
        "index.m3u8",
    ]
    stats = recorder.segmenter.stats
    assert stats.segments_written == 2
    assert stats.bytes_written == sum(len(recorder.storage.files[f"segment{n}.ts"]) for n in (0, 1))


def test_usage_errors():
    with pytest.raises(ValueError, match="needs a video or an audio track"):
        HlsSegmenter(MemoryStorage())
    segmenter = HlsSegmenter(MemoryStorage(), audio=AUDIO)
    with pytest.raises(ValueError, match="video frame without a video track"):
        segmenter.push(next(video_frames(1)))
    with pytest.raises(ValueError, match="HLS window of 0 segments"):
        HlsOptions(window=0)
