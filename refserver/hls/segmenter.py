"""The HLS packager of one stream: frames in, segments and a live media playlist out.

Segments start at a video keyframe once the open one has reached the target duration, so every
segment starts with an IDR (H.265: IRAP) and the playlist says ``EXT-X-INDEPENDENT-SEGMENTS``.
A discontinuity (the source restarted, the codec or parameter sets changed, timestamps went
backwards) closes the open segment and marks the next one ``EXT-X-DISCONTINUITY``. The playlist
is a sliding window; removed segments stay in storage as long as RFC 8216 §6.2.2 asks, then go.
Each segment is written before the playlist that lists it, both atomically.

Segments are MPEG-TS or fragmented MP4 (``HlsOptions.segment_format``), written by a
:class:`~refserver.hls.writer.SegmentWriter`. An fMP4 stream also has an init segment per track
configuration, each under its own name (``init-N.mp4``, N the sequence number of the first segment
that uses it): segments still in the playlist keep the init segment they were made for, and
``EXT-X-MAP`` changes with the discontinuity. An init segment goes the way of the last segment
that used it.

Audio that runs ahead of the video waits for it, so that a segment's audio starts where its
keyframe does, not where the keyframe happened to arrive: a camera sends a large keyframe over
tens of milliseconds while its audio packets keep coming, and two RTP streams cross on the way.
An audio frame is written once a video frame with a later DTS has come (no later keyframe can
then start before it), or when a segment closes at a keyframe and the frame comes before it.
At most ``MAX_AUDIO_LEAD`` of audio waits: audio whose video has stalled goes on alone.

The first playlist fixes ``EXT-X-TARGETDURATION`` for the stream's life (§6.2.1 allows no
change): the configured target, or the first segment's rounded duration when the source's GOP
is longer. A later segment longer than that is counted in ``stats.target_duration_overruns``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from refserver.hls.media import CLOCK_RATE, VIDEO, AudioConfig, Frame, VideoConfig
from refserver.hls.retention import Retention
from refserver.hls.stats import HlsStats
from refserver.hls.storage import Storage
from refserver.hls.writer import SEGMENT_FORMATS, SegmentWriter
from wire.codec.errors import CodecError
from wire.codec.nal import nal_type, parameter_set_types
from wire.codec.stamp import read_stamp_nalus
from wire.hls.playlist import InitSection, MediaPlaylist, MediaSegment, round_duration
from wire.hls.render import render

logger = logging.getLogger(__name__)

# RFC 8216 §6.2.2: never shrink the playlist below three target durations.
MIN_TARGET_DURATIONS = 3
# A keyframe this close to the target still closes the segment (fps rounding, 29.97 etc.).
CUT_TOLERANCE = CLOCK_RATE // 1000
DEFAULT_FRAME_TICKS = CLOCK_RATE // 30
# How far audio may run ahead of the video before it is written without waiting for it.
MAX_AUDIO_LEAD = CLOCK_RATE

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class HlsOptions:
    """``target_duration`` in seconds; ``window`` segments in the live playlist.

    ``segment_format`` is ``mpegts`` or ``fmp4``; ``segment_name`` None takes the format's
    default (``segment{sequence}.ts``, ``seg-{sequence}.m4s``). ``init_name`` names the fMP4
    init segments, one per track configuration; ``{generation}`` is the sequence number of the
    first segment that uses it.
    """

    target_duration: float = 2.0
    window: int = 6
    playlist_name: str = "index.m3u8"
    segment_name: str | None = None
    segment_format: str = "mpegts"
    init_name: str = "init-{generation}.mp4"

    def __post_init__(self) -> None:
        if self.segment_format not in SEGMENT_FORMATS:
            raise ValueError(
                f"HLS segment format {self.segment_format!r} is not one of "
                f"{', '.join(SEGMENT_FORMATS)}"
            )
        if self.target_duration <= 0:
            raise ValueError(f"HLS target duration {self.target_duration} s is not positive")
        if self.window < 1:
            raise ValueError(f"HLS window of {self.window} segments")

    def segment_file(self, sequence: int) -> str:
        """The file name of segment ``sequence``."""
        pattern = self.segment_name or SEGMENT_FORMATS[self.segment_format].segment_name
        return pattern.format(sequence=sequence)


@dataclass(slots=True)
class _OpenSegment:
    sequence: int
    start_pts: int
    end_pts: int
    end_dts: int
    discontinuity: bool
    program_date_time: datetime | None


def _frame_ticks(audio: AudioConfig | None) -> int:
    return audio.frame_ticks if audio is not None else 0


class HlsSegmenter:
    """Packages one stream into ``storage``; ``clock`` gives wallclock seconds (time.time)."""

    def __init__(
        self,
        storage: Storage,
        *,
        video: VideoConfig | None = None,
        audio: AudioConfig | None = None,
        options: HlsOptions | None = None,
        clock: Clock = time.time,
        name: str | None = None,
    ) -> None:
        if video is None and audio is None:
            raise ValueError("HLS segmenter: needs a video or an audio track")
        self.storage = storage
        self.options = options or HlsOptions()
        self.stats = HlsStats()
        self.name = name
        """The stream's name, for the log."""
        self.audio_left_out: str | None = None
        """Why the source's audio is not in the segments: a configuration the segment format
        cannot carry (AAC object types ADTS has no profile for). The video goes on without it."""
        self._clock = clock
        self._format = SEGMENT_FORMATS[self.options.segment_format]
        self._source_tracks = (video, audio)
        self._video = video
        self._audio = self._packaged_audio(audio)
        self._audio_ticks = _frame_ticks(self._audio)
        # A keyframe this far after the open segment's start closes it (see _due).
        self._cut_ticks = self.options.target_duration * CLOCK_RATE - CUT_TOLERANCE
        self._writer: SegmentWriter | None = None
        if self._video is not None or self._audio is not None:
            self._writer = self._format.writer(self._video, self._audio)
        self._init_section: InitSection | None = None
        self._init_data = b""
        self._init_used = False
        self._segments: list[MediaSegment] = []
        self._media_sequence = 0
        self._discontinuity_sequence = 0
        self._next_sequence = 0
        self._target_duration: int | None = None
        self._open: _OpenSegment | None = None
        self._pending_discontinuity = False
        self._last_dts: int | None = None
        self._frame_ticks = DEFAULT_FRAME_TICKS
        self._anchor: tuple[int, float] | None = None  # (pts, wallclock seconds)
        self._held_audio: deque[Frame] = deque()  # waiting for the video to catch up
        self._retention = Retention()
        self._ended = False
        if self._writer is not None:
            self._write_init(self._writer.configure(self._video, self._audio))

    # Public API

    @property
    def playlist(self) -> MediaPlaylist | None:
        """The playlist as last written, None before the first segment is complete."""
        if self._target_duration is None:
            return None
        playlist = MediaPlaylist(
            target_duration=self._target_duration,
            segments=tuple(self._segments),
            media_sequence=self._media_sequence,
            discontinuity_sequence=self._discontinuity_sequence,
            independent_segments=True,
            endlist=self._ended,
        )
        return replace(playlist, version=playlist.required_version())

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        """New track configurations (a new sequence header); a change is a discontinuity."""
        if (video, audio) == self._source_tracks:
            return
        if video is None and audio is None:
            raise ValueError("HLS segmenter: needs a video or an audio track")
        self._source_tracks = (video, audio)
        packaged = (video, self._packaged_audio(audio))
        if packaged == (self._video, self._audio):
            return  # another configuration of audio that is left out all the same
        self._break("track configuration changed")
        self._video, self._audio = packaged
        self._audio_ticks = _frame_ticks(self._audio)
        if video is None and self._audio is None:
            return  # nothing the format can carry: frames are dropped until that changes
        if self._writer is None:
            self._writer = self._format.writer(*packaged)
        self._write_init(self._writer.configure(*packaged))

    def discontinuity(self) -> None:
        """The source restarted: close the open segment, mark the next a discontinuity."""
        self._break("source restarted")

    def continue_from(self, next_sequence: int, discontinuity_sequence: int) -> None:
        """Carry on the playlist an earlier packager of this stream left (refserver restarted,
        or the stream ended and is published again): the first segment is number
        ``next_sequence`` and a discontinuity, and the discontinuity sequence starts at
        ``discontinuity_sequence`` (RFC 8216 §6.2.1, §6.2.2). Only before the first segment."""
        if self._next_sequence or self._open is not None:
            raise ValueError("HLS segmenter: continue_from after the first segment")
        self._media_sequence = self._next_sequence = next_sequence
        self._discontinuity_sequence = discontinuity_sequence
        self._pending_discontinuity = True
        self.stats.discontinuities += 1
        if self._init_section is not None and not self._init_used:
            self._write_init(self._init_data)  # renamed for the sequence it now starts at

    def push(self, frame: Frame) -> None:
        """Add one frame, in decode order."""
        if self._ended:
            raise ValueError("HLS segmenter: frame pushed after finish(endlist=True)")
        video = frame.kind is VIDEO
        if not video and self._audio is None and self.audio_left_out:
            return  # audio the format cannot carry, as the API and the log say
        if self._writer is None:
            self.stats.frames_dropped += 1
            return
        if video:
            self._push_video(frame)
        else:
            self._push_audio(frame)
        now = self._clock()
        if now >= self._retention.next_deadline:
            self._expire(now)

    def finish(self, *, endlist: bool = False) -> None:
        """Close the open segment; with ``endlist`` the stream is over for good."""
        self._release_audio()
        if self._open is not None:
            self._close(self._open.end_pts, self._open.end_dts)
        if endlist and self._target_duration is not None:
            self._ended = True
            self._write_playlist()

    def expire(self) -> None:
        """Delete removed segments whose retention time has passed."""
        self._expire(self._clock())

    def _expire(self, now: float) -> None:
        for name in self._retention.due(now):
            self.storage.delete(name)
            self.stats.segments_deleted += 1

    # Tracks

    def _packaged_audio(self, audio: AudioConfig | None) -> AudioConfig | None:
        """``audio`` when the segment format can carry it; else None, the reason kept in
        :attr:`audio_left_out` and logged once for each configuration left out."""
        problem = None if audio is None else self._format.audio_problem(audio)
        if problem is not None and problem != self.audio_left_out:
            logger.warning(
                "HLS leaves the audio out", extra={"stream": self.name, "reason": problem}
            )
        self.audio_left_out = problem
        return None if problem is not None else audio

    # Frames

    def _push_video(self, frame: Frame) -> None:
        video = self._video
        if video is None:
            raise ValueError("HLS segmenter: video frame without a video track")
        if self._last_dts is not None and frame.dts < self._last_dts:
            self._break(f"video DTS went back from {self._last_dts} to {frame.dts}")
        if frame.keyframe:
            self._adopt_parameter_sets(video, frame)
        self._note_wallclock(frame)
        if frame.keyframe and (self._open is None or self._due(frame.pts)):
            self._release_audio(before=frame.pts)
            self._start(frame.pts, frame.dts)
        if self._last_dts is not None and frame.dts > self._last_dts:
            self._frame_ticks = frame.dts - self._last_dts
        dts = self._last_dts = frame.dts
        segment = self._open
        if segment is None:
            self.stats.frames_dropped += 1
            return
        writer = self._writer
        assert writer is not None  # frames reach a segment only while a track is packaged
        writer.add(frame)
        end_pts = frame.pts + self._frame_ticks
        if end_pts > segment.end_pts:
            segment.end_pts = end_pts
        segment.end_dts = dts + self._frame_ticks
        held = self._held_audio
        if held and held[0].pts < dts:
            self._release_audio(before=dts)

    def _push_audio(self, frame: Frame) -> None:
        audio = self._audio
        if audio is None:
            raise ValueError("HLS segmenter: audio frame without an audio track")
        if self._video is not None:
            held = self._held_audio
            held.append(frame)
            if self._last_dts is not None and frame.pts < self._last_dts:
                self._release_audio(before=self._last_dts)
            while len(held) * self._audio_ticks > MAX_AUDIO_LEAD:
                self._write_audio(held.popleft())
            return
        # Audio alone drives the timeline: every frame is a random access point.
        if self._last_dts is not None and frame.dts < self._last_dts:
            self._break(f"audio PTS went back from {self._last_dts} to {frame.dts}")
        if self._open is None or self._due(frame.pts):
            self._start(frame.pts, frame.dts)
        self._last_dts = frame.dts
        self._write_audio(frame)
        segment = self._open
        assert segment is not None
        ticks = self._audio_ticks
        segment.end_pts = max(segment.end_pts, frame.pts + ticks)
        segment.end_dts = frame.dts + ticks

    def _release_audio(self, *, before: int | None = None) -> None:
        """Write the held audio, in arrival order, up to the first frame not before ``before``
        (None: all of it)."""
        held = self._held_audio
        while held and (before is None or held[0].pts < before):
            self._write_audio(held.popleft())

    def _write_audio(self, frame: Frame) -> None:
        if self._open is None:
            self.stats.frames_dropped += 1
        else:
            writer = self._writer
            assert writer is not None  # frames reach a segment only while a track is packaged
            writer.add(frame)

    def _due(self, pts: int) -> bool:
        assert self._open is not None
        return pts - self._open.start_pts >= self._cut_ticks

    def _adopt_parameter_sets(self, video: VideoConfig, frame: Frame) -> None:
        """In-band parameter sets that differ from the track's are a new configuration."""
        wanted = parameter_set_types(video.codec)
        try:
            in_band = {
                nal_type(video.codec, nal): nal
                for nal in frame.nalus
                if nal and nal_type(video.codec, nal) in wanted
            }
        except CodecError:
            return
        current = {nal_type(video.codec, nal): nal for nal in video.parameter_sets}
        if all(current.get(kind) == nal for kind, nal in in_band.items()):
            return
        merged = tuple({**current, **in_band}[kind] for kind in wanted if kind in current | in_band)
        self.configure(VideoConfig(video.codec, merged), self._source_tracks[1])

    def _note_wallclock(self, frame: Frame) -> None:
        wallclock_us = frame.wallclock_us
        if wallclock_us is None and self._video is not None:
            try:
                stamp = read_stamp_nalus(self._video.codec, frame.nalus)
            except CodecError:
                stamp = None
            if stamp is not None and stamp.stamped:
                wallclock_us = stamp.wallclock_us
        if wallclock_us is None:
            return
        wallclock = wallclock_us / 1_000_000
        self._anchor = (frame.pts, wallclock)
        self.stats.last_stamp_latency = self._clock() - wallclock

    def _wallclock_at(self, pts: int) -> float:
        if self._anchor is None:
            self._anchor = (pts, self._clock())
        anchor_pts, anchor_wallclock = self._anchor
        return anchor_wallclock + (pts - anchor_pts) / CLOCK_RATE

    # Segments and the playlist

    def _start(self, pts: int, dts: int) -> None:
        if self._open is not None:
            self._close(pts, dts)
        milliseconds = round(self._wallclock_at(pts) * 1000)
        self._open = _OpenSegment(
            sequence=self._next_sequence,
            start_pts=pts,
            end_pts=pts,
            end_dts=dts,
            discontinuity=self._pending_discontinuity,
            program_date_time=datetime.fromtimestamp(milliseconds / 1000, UTC),
        )
        writer = self._writer
        assert writer is not None  # segments start only while a track is packaged
        writer.begin()
        self._next_sequence += 1
        self._pending_discontinuity = False

    def _break(self, reason: str) -> None:
        started = self._open is not None or self._next_sequence > 0
        self._release_audio()
        if self._open is not None:
            self._close(self._open.end_pts, self._open.end_dts)
        self._last_dts = None
        self._anchor = None
        if started:
            logger.info("HLS discontinuity after segment %d: %s", self._next_sequence - 1, reason)
            self._pending_discontinuity = True
            self.stats.discontinuities += 1

    def _close(self, end_pts: int, end_dts: int) -> None:
        segment = self._open
        assert segment is not None
        self._open = None
        end_pts = max(end_pts, segment.start_pts + self._frame_ticks)
        duration = round((end_pts - segment.start_pts) / CLOCK_RATE, 6)
        name = self.options.segment_file(segment.sequence)
        writer = self._writer
        assert writer is not None  # a segment is open only while a track is packaged
        data = writer.end(end_dts)
        self.storage.write(name, data)
        now = self._clock()
        self.stats.segments_written += 1
        self.stats.bytes_written += len(data)
        self.stats.last_segment_at = now
        if self._target_duration is None:
            self._target_duration = max(
                round_duration(self.options.target_duration), round_duration(duration)
            )
        elif round_duration(duration) > self._target_duration:
            self.stats.target_duration_overruns += 1
            logger.warning(
                "HLS segment %s lasts %.3f s, over the target duration %d s (GOP too long)",
                name,
                duration,
                self._target_duration,
            )
        self._segments.append(
            MediaSegment(
                uri=name,
                duration=duration,
                discontinuity=segment.discontinuity,
                program_date_time=segment.program_date_time,
                init_section=self._init_section,
            )
        )
        self._init_used = True
        self._slide(now)
        self._write_playlist()

    def _slide(self, now: float) -> None:
        assert self._target_duration is not None
        minimum = MIN_TARGET_DURATIONS * self._target_duration
        remaining = sum(s.duration for s in self._segments)
        while (
            len(self._segments) > self.options.window
            and remaining - self._segments[0].duration >= minimum
        ):
            removed = self._segments.pop(0)
            remaining -= removed.duration
            self._media_sequence += 1
            if removed.discontinuity:
                self._discontinuity_sequence += 1
            self._retention.removed(removed.uri, removed.duration, now)
            init = removed.init_section
            if init is not None and init != self._segments[0].init_section:
                self._retention.removed(init.uri, removed.duration, now)

    def _write_playlist(self) -> None:
        playlist = self.playlist
        assert playlist is not None
        self.storage.write(self.options.playlist_name, render(playlist).encode())
        self.stats.playlists_written += 1
        names = [s.uri for s in playlist.segments]
        names += {s.init_section.uri: None for s in playlist.segments if s.init_section}
        self._retention.published(names, playlist.duration)

    def _write_init(self, data: bytes | None) -> None:
        """Store a new initialization section; the next segments point to it.

        It is named after the sequence number of the first segment that will use it, which the
        media sequence makes unique for good, across republishes and restarts too: a player or
        cache holding an older init segment of the stream never meets its name again with other
        bytes. (Only an init segment no segment used can be replaced under its name, and no
        playlist ever named that one.)"""
        if data is None:
            return
        if self._init_section is not None and not self._init_used:
            self.storage.delete(self._init_section.uri)  # no segment ever pointed to it
        self._init_used = False
        self._init_data = data
        name = self.options.init_name.format(generation=self._next_sequence)
        self.storage.write(name, data)
        self._init_section = InitSection(name)
