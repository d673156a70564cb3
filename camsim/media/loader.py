"""Load any file PyAV can open into access units that cameras and encoders send.

Video (H.264, H.265) comes out as NAL units without start codes or lengths, whether the file
stores Annex B (MPEG-TS, raw streams) or length-prefixed samples (MP4, MKV, FLV); parameter sets
come from the decoder configuration record or, failing that, from the stream itself. AAC comes out
as raw frames with the AudioSpecificConfig, ADTS headers removed. Timestamps are integers in
each track's clock (90 kHz for video, the sample rate for audio), starting at zero at the first
decode time; :meth:`MediaSample.loop` repeats the sample with continuous timestamps.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

import av
import av.container

from camsim.media.spec import AudioCodec
from wire.codec.aac import AdtsHeader, AudioSpecificConfig
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord, H264Sps
from wire.codec.h265 import H265Sps, HevcDecoderConfigurationRecord
from wire.codec.nal import (
    VideoCodec,
    is_irap,
    looks_like_annexb,
    nal_type,
    parameter_set_types,
    split_annexb,
    split_length_prefixed,
)
from wire.codec.stamp import read_stamp_nalus

VIDEO_CLOCK_RATE = 90_000

_PYAV_VIDEO_CODECS = {"h264": VideoCodec.H264, "hevc": VideoCodec.H265}
_PYAV_RAW_AUDIO_CODECS = {
    "pcm_mulaw": AudioCodec.PCMU,
    "pcm_alaw": AudioCodec.PCMA,
    "opus": AudioCodec.OPUS,
    "libopus": AudioCodec.OPUS,
}
G711_FRAME_SAMPLES = 160
"""G.711 is cut into 20 ms units (RFC 3551 §4.5's default interval), whatever chunks the
container stored it in."""


class LoaderError(Exception):
    """The file cannot be used as a camsim source (no usable track, unreadable, malformed)."""


# What an errno means for a file (or an address) someone named, in camsim's words.
_ERRNO_WORDS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of its path is not a folder",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "the file is too large",
    errno.EADDRINUSE: "address already in use",
    errno.EADDRNOTAVAIL: "no such address on this machine",
}


def describe_error(error: BaseException) -> str:
    """Why a file could not be read or written, in plain words: no errno numbers, no file name
    (the caller names the file), no FFmpeg wording."""
    if isinstance(error, av.InvalidDataError):
        return "not a media file FFmpeg can read (unknown or damaged format)"
    if isinstance(error, av.FFmpegError | OSError):
        code = error.errno
        words = _ERRNO_WORDS.get(code) if isinstance(code, int) else None
        if words is not None:
            return words
        text = error.strerror
        if isinstance(text, str) and text:
            return text[0].lower() + text[1:]
    return str(error) or type(error).__name__


class MediaKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture (``nalus``) or one audio frame (``data``).

    Timestamps are in ``clock_rate`` ticks. ``frame_index`` is the camsim stamp's frame index
    when the picture carries one.
    """

    kind: MediaKind
    pts: int
    dts: int
    duration: int
    clock_rate: int
    keyframe: bool
    nalus: tuple[bytes, ...] = ()
    data: bytes = b""
    frame_index: int | None = None

    @property
    def decode_time(self) -> Fraction:
        """Decode time in seconds, the order in which units are sent."""
        return Fraction(self.dts, self.clock_rate)

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(nal) for nal in self.nalus)

    def shifted(self, ticks: int) -> AccessUnit:
        return replace(self, pts=self.pts + ticks, dts=self.dts + ticks)


@dataclass(frozen=True, slots=True)
class VideoTrack:
    codec: VideoCodec
    width: int
    height: int
    fps: Fraction
    parameter_sets: tuple[bytes, ...]  # VPS (H.265), SPS, PPS: in the order decoders want them
    profile: str
    level: str
    codec_string: str
    clock_rate: int = VIDEO_CLOCK_RATE

    @property
    def frame_duration(self) -> int:
        return round(self.clock_rate / self.fps)


@dataclass(frozen=True, slots=True)
class AudioTrack:
    asc: bytes  # AudioSpecificConfig
    sample_rate: int
    channels: int
    codec_string: str
    samples_per_frame: int = 1024
    codec: AudioCodec = AudioCodec.AAC
    """Not AAC: ``asc`` is empty and ``codec_string`` the RTP encoding name."""

    @property
    def clock_rate(self) -> int:
        return self.sample_rate


@dataclass(frozen=True, slots=True)
class MediaSample:
    """A loaded file: its tracks and access units in decode order (video and audio interleaved)."""

    path: Path
    video: VideoTrack | None
    audio: AudioTrack | None
    units: tuple[AccessUnit, ...]
    skipped_tracks: tuple[str, ...] = field(default=())

    @property
    def video_units(self) -> tuple[AccessUnit, ...]:
        return tuple(u for u in self.units if u.kind is MediaKind.VIDEO)

    @property
    def audio_units(self) -> tuple[AccessUnit, ...]:
        return tuple(u for u in self.units if u.kind is MediaKind.AUDIO)

    @property
    def duration(self) -> Fraction:
        """The loop period in seconds: the video's length, or the audio's without video."""
        if self.video is not None:
            frames = self.video_units
            return Fraction(
                max(u.pts for u in frames) + frames[-1].duration - _first_pts(frames),
                self.video.clock_rate,
            )
        frames = self.audio_units
        return Fraction(frames[-1].pts + frames[-1].duration - frames[0].pts, frames[0].clock_rate)

    def loop(self, count: int | None = None) -> Iterator[AccessUnit]:
        """The units repeated ``count`` times (forever with ``None``), timestamps continuous.

        Each repetition is shifted by exactly :attr:`duration` on every track, so audio and video
        stay in step however long it runs; an audio frame that would overlap the next repetition
        is left out (a gap of less than one frame at the seam, never an overlap).
        """
        period = self.duration
        kept = tuple(
            u
            for u in self.units
            if u.kind is MediaKind.VIDEO or Fraction(u.pts + u.duration, u.clock_rate) <= period
        )
        repetitions = itertools.count() if count is None else range(count)
        for n in repetitions:
            for unit in kept:
                shift = period * n * unit.clock_rate
                if shift.denominator != 1:
                    raise LoaderError(
                        f"{self.path}: loop period {period} s is not a whole number "
                        f"of {unit.clock_rate} Hz ticks"
                    )
                yield unit.shifted(int(shift))


def _first_pts(units: tuple[AccessUnit, ...]) -> int:
    return min(u.pts for u in units)


def load(path: str | Path) -> MediaSample:
    """Load the first H.264/H.265 video track and the first AAC, G.711 or Opus track of
    ``path``."""
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise LoaderError(f"{path}: cannot open: {describe_error(exc)}") from exc
    with container:
        return _load(path, container)


def _load(path: Path, container: av.container.InputContainer) -> MediaSample:
    skipped: list[str] = []
    vstream = astream = None
    for stream in container.streams:
        name = stream.codec_context.name
        if stream.type == "video" and vstream is None and name in _PYAV_VIDEO_CODECS:
            vstream = stream
        elif stream.type == "audio" and astream is None and name in _AUDIO_NAMES:
            astream = stream
        else:
            skipped.append(f"{stream.type}:{name}")
    if vstream is None and astream is None:
        raise LoaderError(
            f"{path}: no H.264, H.265, AAC, G.711 or Opus track (found {', '.join(skipped)})"
        )

    video = _VideoReader(path, vstream) if vstream is not None else None
    audio: _AudioReader | _RawAudioReader | None = None
    if astream is not None:
        raw = _PYAV_RAW_AUDIO_CODECS.get(astream.codec_context.name)
        audio = _AudioReader(path, astream) if raw is None else _RawAudioReader(path, astream, raw)
    selected = [s for s in (vstream, astream) if s is not None]
    try:
        for packet in container.demux(selected):
            if packet.size == 0:
                continue
            if video is not None and packet.stream is vstream:
                video.add(packet)
            elif audio is not None:
                audio.add(packet)
    except av.FFmpegError as exc:
        raise LoaderError(f"{path}: cannot read it to the end: {describe_error(exc)}") from exc

    video_track = video.track() if video is not None else None
    audio_track = audio.track() if audio is not None else None
    units = (video.units if video else []) + (audio.units if audio else [])
    if not units:
        raise LoaderError(f"{path}: no packets")
    # Time zero is the earliest decode time over all tracks, so no timestamp is negative.
    origin = min(u.decode_time for u in units)
    units = [u.shifted(-int(origin * u.clock_rate)) for u in units]
    units.sort(key=lambda u: (u.decode_time, u.kind is MediaKind.AUDIO))
    return MediaSample(path, video_track, audio_track, tuple(units), tuple(skipped))


class _VideoReader:
    def __init__(self, path: Path, stream: av.stream.Stream) -> None:
        self.path = path
        self.stream = stream
        self.codec = _PYAV_VIDEO_CODECS[stream.codec_context.name]
        self.time_base = stream.time_base or Fraction(1, VIDEO_CLOCK_RATE)
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self.fps = Fraction(rate)
        self.frame_duration = round(VIDEO_CLOCK_RATE / self.fps)
        self.units: list[AccessUnit] = []
        extradata = stream.codec_context.extradata or b""
        self.parameter_sets: dict[int, bytes] = {}
        self.length_size = 4
        self.annexb = looks_like_annexb(extradata)
        if extradata:
            self._read_extradata(extradata)

    def _read_extradata(self, extradata: bytes) -> None:
        try:
            if self.annexb:
                nalus: tuple[bytes, ...] = tuple(split_annexb(extradata))
            elif self.codec is VideoCodec.H264:
                avcc = AvcDecoderConfigurationRecord.parse(extradata)
                nalus, self.length_size = avcc.sps + avcc.pps, avcc.length_size
            else:
                hvcc = HevcDecoderConfigurationRecord.parse(extradata)
                nalus = tuple(
                    nal for kind in parameter_set_types(self.codec) for nal in hvcc.nal_units(kind)
                )
                self.length_size = hvcc.length_size
        except CodecError as exc:
            raise LoaderError(f"{self.path}: bad decoder configuration: {exc}") from exc
        self._remember_parameter_sets(nalus)

    def _remember_parameter_sets(self, nalus: tuple[bytes, ...] | list[bytes]) -> None:
        wanted = parameter_set_types(self.codec)
        for nal in nalus:
            kind = nal_type(self.codec, nal)
            if kind in wanted:
                self.parameter_sets.setdefault(kind, nal)

    def add(self, packet: av.Packet[av.stream.Stream]) -> None:
        data = bytes(packet)
        try:
            if self.annexb or looks_like_annexb(data):
                nalus = split_annexb(data)
            else:
                nalus = split_length_prefixed(data, self.length_size)
        except CodecError as exc:
            raise LoaderError(f"{self.path}: video packet {len(self.units)}: {exc}") from exc
        if not nalus:
            return
        if len(self.parameter_sets) < len(parameter_set_types(self.codec)):
            self._remember_parameter_sets(nalus)
        index = len(self.units)
        pts = self._ticks(packet.pts, index)
        dts = self._ticks(packet.dts, index) if packet.dts is not None else pts
        keyframe = bool(packet.is_keyframe) or any(is_irap(self.codec, n) for n in nalus)
        self.units.append(
            AccessUnit(
                MediaKind.VIDEO,
                pts,
                dts,
                self.frame_duration,
                VIDEO_CLOCK_RATE,
                keyframe,
                nalus=tuple(nalus),
                frame_index=_frame_index(self.codec, nalus),
            )
        )

    def _ticks(self, value: int | None, index: int) -> int:
        if value is None:  # raw elementary streams carry no timestamps
            return index * self.frame_duration
        return round(value * self.time_base * VIDEO_CLOCK_RATE)

    def track(self) -> VideoTrack:
        wanted = parameter_set_types(self.codec)
        missing = [t for t in wanted if t not in self.parameter_sets]
        if missing:
            raise LoaderError(f"{self.path}: no parameter sets of NAL type {missing} found")
        sets = tuple(self.parameter_sets[t] for t in wanted)
        sps_nal = self.parameter_sets[wanted[-2]]
        try:
            sps: H264Sps | H265Sps = (
                H264Sps.parse(sps_nal) if self.codec is VideoCodec.H264 else H265Sps.parse(sps_nal)
            )
        except CodecError as exc:
            raise LoaderError(f"{self.path}: bad SPS: {exc}") from exc
        return VideoTrack(
            codec=self.codec,
            width=sps.width,
            height=sps.height,
            fps=self.fps,
            parameter_sets=sets,
            profile=sps.profile_name,
            level=sps.level_name,
            codec_string=sps.codec_string,
        )


def _frame_index(codec: VideoCodec, nalus: list[bytes]) -> int | None:
    try:
        stamp = read_stamp_nalus(codec, nalus)
    except CodecError:
        return None  # a damaged stamp: the picture is still usable, just not indexed
    return stamp.frame_index if stamp is not None else None


class _AudioReader:
    def __init__(self, path: Path, stream: av.stream.Stream) -> None:
        self.path = path
        self.stream = stream
        self.time_base = stream.time_base or Fraction(1, 48_000)
        self.asc: AudioSpecificConfig | None = None
        extradata = stream.codec_context.extradata
        if extradata:
            try:
                self.asc = AudioSpecificConfig.parse(extradata)
            except CodecError as exc:
                raise LoaderError(f"{self.path}: bad AudioSpecificConfig: {exc}") from exc
        self.units: list[AccessUnit] = []
        self._next_pts: int | None = None

    def add(self, packet: av.Packet[av.stream.Stream]) -> None:
        data = bytes(packet)
        if data[:2] and data[0] == 0xFF and len(data) > 1 and data[1] & 0xF0 == 0xF0:
            data = self._strip_adts(data)
        if self.asc is None:
            raise LoaderError(f"{self.path}: AAC track without AudioSpecificConfig or ADTS")
        rate = self.asc.sample_rate
        duration = self.asc.samples_per_frame
        if packet.pts is not None:
            pts = round(packet.pts * self.time_base * rate)
        else:
            pts = self._next_pts or 0
        self._next_pts = pts + duration
        if pts + duration <= 0:
            return  # encoder priming, wholly before time zero (the container's edit list)
        self.units.append(AccessUnit(MediaKind.AUDIO, pts, pts, duration, rate, True, data=data))

    def _strip_adts(self, data: bytes) -> bytes:
        try:
            header = AdtsHeader.parse(data)
        except CodecError as exc:
            raise LoaderError(f"{self.path}: bad ADTS header: {exc}") from exc
        if self.asc is None:
            self.asc = header.audio_specific_config()
        return data[header.header_length : header.frame_length]

    def track(self) -> AudioTrack:
        if self.asc is None:
            raise LoaderError(f"{self.path}: AAC track without AudioSpecificConfig")
        if self.asc.channels is None:
            raise LoaderError(
                f"{self.path}: AAC object type {self.asc.object_type} is not supported"
            )
        return AudioTrack(
            asc=self.asc.serialize(),
            sample_rate=self.asc.sample_rate,
            channels=self.asc.channels,
            codec_string=self.asc.codec_string,
            samples_per_frame=self.asc.samples_per_frame,
        )


_AUDIO_NAMES = frozenset({"aac", *_PYAV_RAW_AUDIO_CODECS})


class _RawAudioReader:
    """G.711 or Opus: units are the coded bytes as RTP carries them, with no configuration.

    G.711 (one octet per sample) is cut into 20 ms units; each Opus packet is a unit of its
    own duration. Opus timestamps are on its 48 kHz RTP clock (RFC 7587 §4.1).
    """

    def __init__(self, path: Path, stream: av.stream.Stream, codec: AudioCodec) -> None:
        self.path = path
        self.codec = codec
        context = stream.codec_context
        assert isinstance(context, av.AudioCodecContext)
        self.sample_rate = 48_000 if codec is AudioCodec.OPUS else context.sample_rate
        self.channels = context.channels
        if codec.is_g711 and (self.sample_rate, self.channels) != (8000, 1):
            raise LoaderError(
                f"{path}: G.711 at {self.sample_rate} Hz, {self.channels} channels "
                "(RTP's PCMU and PCMA are 8000 Hz mono)"
            )
        self.time_base = stream.time_base or Fraction(1, self.sample_rate)
        self.units: list[AccessUnit] = []
        self._pending = b""
        self._pending_pts = 0
        self._next_pts = 0

    def add(self, packet: av.Packet[av.stream.Stream]) -> None:
        data = bytes(packet)
        rate = self.sample_rate
        pts = self._next_pts if packet.pts is None else round(packet.pts * self.time_base * rate)
        if self.codec.is_g711:
            if not self._pending:
                self._pending_pts = pts
            self._pending += data
            while len(self._pending) >= G711_FRAME_SAMPLES:
                unit, self._pending = (
                    self._pending[:G711_FRAME_SAMPLES],
                    self._pending[G711_FRAME_SAMPLES:],
                )
                self._unit(self._pending_pts, G711_FRAME_SAMPLES, unit)
                self._pending_pts += G711_FRAME_SAMPLES
            return
        if packet.duration:
            duration = round(packet.duration * self.time_base * rate)
        else:
            duration = rate // 50
        self._unit(pts, duration, data)

    def _unit(self, pts: int, duration: int, data: bytes) -> None:
        self._next_pts = pts + duration
        if pts + duration <= 0:
            return  # encoder priming, wholly before time zero
        self.units.append(
            AccessUnit(MediaKind.AUDIO, pts, pts, duration, self.sample_rate, True, data=data)
        )

    def track(self) -> AudioTrack:
        name = {AudioCodec.PCMU: "PCMU", AudioCodec.PCMA: "PCMA"}.get(self.codec, "opus")
        return AudioTrack(
            asc=b"",
            sample_rate=self.sample_rate,
            channels=self.channels,
            codec_string=name,
            samples_per_frame=G711_FRAME_SAMPLES if self.codec.is_g711 else 960,
            codec=self.codec,
        )
