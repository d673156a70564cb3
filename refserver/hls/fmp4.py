"""Fragmented MP4 (CMAF) segments: an init segment per track configuration, then one moof and
mdat per segment with a track fragment for each track."""

from __future__ import annotations

from refserver.hls.media import (
    CLOCK_RATE,
    VIDEO,
    AudioConfig,
    Frame,
    VideoConfig,
    describe_object_type,
)
from wire.codec.nal import join_length_prefixed
from wire.fmp4 import (
    AudioTrack,
    Sample,
    TrackFragment,
    VideoTrack,
    init_segment,
    media_segment,
)
from wire.fmp4.init import VIDEO_TIMESCALE

# Media time and the video timescale are both 90 kHz: video timestamps go in unchanged.
assert VIDEO_TIMESCALE == CLOCK_RATE


FRAMED_OBJECT_TYPES = frozenset({1, 2, 3, 4, 6, 7})
"""The AAC object types whose GASpecificConfig ``wire.codec.aac`` reads, so whose frame length
(1024 or 960 samples) is known: every sample's duration in the fragment depends on it."""
MAX_SAMPLE_ENTRY_RATE = 0xFFFF
"""The mp4a sample entry holds the rate as 16.16 fixed point (ISO/IEC 14496-12 §12.2.3)."""


def fmp4_audio_problem(audio: AudioConfig) -> str | None:
    """Why an AAC configuration cannot go into these fMP4 segments; None when it can."""
    asc = audio.asc
    if asc.object_type not in FRAMED_OBJECT_TYPES:
        return (
            f"{describe_object_type(asc.object_type)} has a frame length the fMP4 writer does "
            "not know, so its sample durations would be wrong"
        )
    if asc.sample_rate > MAX_SAMPLE_ENTRY_RATE:
        return f"a sample rate of {asc.sample_rate} Hz does not fit the mp4a sample entry"
    return None


class Fmp4SegmentWriter:
    """Collects a segment's frames and writes them as one fragment at its end."""

    def __init__(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        self._video: VideoTrack | None = None
        self._audio: AudioTrack | None = None
        self._video_frames: list[Frame] = []
        self._audio_frames: list[Frame] = []
        self._sequence_number = 0
        self._set_tracks(video, audio)

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> bytes | None:
        """New tracks; returns their init segment (ftyp + moov)."""
        self._set_tracks(video, audio)
        tracks = tuple(t for t in (self._video, self._audio) if t is not None)
        return init_segment(tracks)

    def _set_tracks(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        self._video = VideoTrack(video.codec, video.parameter_sets) if video is not None else None
        self._audio = AudioTrack(audio.asc) if audio is not None else None

    def begin(self) -> None:
        self._video_frames.clear()
        self._audio_frames.clear()

    def add(self, frame: Frame) -> None:
        if frame.kind is VIDEO:
            self._video_frames.append(frame)
        else:
            self._audio_frames.append(frame)

    def end(self, end_dts: int) -> bytes:
        """The segment; ``end_dts`` is where the next one starts (90 kHz), the end of the last
        picture's duration."""
        fragments = []
        track_id = 1
        if self._video is not None:
            if self._video_frames:
                fragments.append(self._video_fragment(track_id, end_dts))
            track_id += 1
        if self._audio is not None and self._audio_frames:
            fragments.append(self._audio_fragment(track_id, self._audio))
        self._sequence_number += 1
        self.begin()
        return media_segment(self._sequence_number, fragments) if fragments else b""

    def _video_fragment(self, track_id: int, end_dts: int) -> TrackFragment:
        frames = self._video_frames
        ends = [frame.dts for frame in frames[1:]] + [end_dts]
        samples = []
        previous = 0
        for frame, next_dts in zip(frames, ends, strict=True):
            duration = next_dts - frame.dts
            if duration <= 0:  # a closing time not after the last picture: repeat the last
                duration = previous
            previous = duration
            samples.append(
                Sample(
                    join_length_prefixed(nal for nal in frame.nalus if nal),
                    duration,
                    sync=frame.keyframe,
                    composition_offset=frame.pts - frame.dts,
                )
            )
        return TrackFragment(track_id, frames[0].dts, tuple(samples))

    def _audio_fragment(self, track_id: int, track: AudioTrack) -> TrackFragment:
        rate = track.timescale
        samples_per_frame = track.asc.samples_per_frame
        base = self._audio_frames[0].pts * rate // CLOCK_RATE
        samples = tuple(Sample(frame.data, samples_per_frame) for frame in self._audio_frames)
        return TrackFragment(
            track_id, base, samples, with_sample_flags=False, with_composition_offsets=False
        )
