"""Inspect a sample: tracks, codec parameters, GOP structure, stamp coverage and duration."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from camsim.media.loader import AccessUnit, MediaSample, load


@dataclass(frozen=True, slots=True)
class GopReport:
    keyframes: int
    interval_frames_min: int | None
    interval_frames_max: int | None
    interval_seconds: float | None  # mean distance between keyframes
    bframes: bool  # presentation order differs from decode order
    parameter_sets_in_band: bool  # every keyframe repeats the parameter sets


@dataclass(frozen=True, slots=True)
class StampReport:
    stamped_frames: int
    frames: int
    first_index: int | None
    last_index: int | None
    in_order: bool  # indexes rise by one in presentation order

    @property
    def coverage(self) -> float:
        return self.stamped_frames / self.frames if self.frames else 0.0


@dataclass(frozen=True, slots=True)
class VideoReport:
    codec: str
    profile: str
    level: str
    codec_string: str
    width: int
    height: int
    fps: float
    frames: int
    bitrate: int
    gop: GopReport
    stamps: StampReport


@dataclass(frozen=True, slots=True)
class AudioReport:
    codec: str
    codec_string: str
    sample_rate: int
    channels: int
    frames: int
    bitrate: int


@dataclass(frozen=True, slots=True)
class ProbeReport:
    path: str
    size: int
    duration: float
    video: VideoReport | None
    audio: AudioReport | None
    skipped_tracks: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.video is not None:
            data["video"]["stamps"]["coverage"] = self.video.stamps.coverage
        return data


def probe(path: str | Path) -> ProbeReport:
    sample = load(path)
    duration = float(sample.duration)
    return ProbeReport(
        path=str(sample.path),
        size=Path(path).stat().st_size,
        duration=duration,
        video=_video_report(sample, duration),
        audio=_audio_report(sample, duration),
        skipped_tracks=sample.skipped_tracks,
    )


def _bitrate(units: tuple[AccessUnit, ...], duration: float) -> int:
    return round(sum(u.size for u in units) * 8 / duration) if duration > 0 else 0


def _video_report(sample: MediaSample, duration: float) -> VideoReport | None:
    track = sample.video
    if track is None:
        return None
    units = sample.video_units
    key_positions = [i for i, u in enumerate(units) if u.keyframe]
    intervals = [b - a for a, b in itertools.pairwise(key_positions)]
    parameter_set_bytes = set(track.parameter_sets)
    in_band = bool(key_positions) and all(
        parameter_set_bytes <= set(units[i].nalus) for i in key_positions
    )
    gop = GopReport(
        keyframes=len(key_positions),
        interval_frames_min=min(intervals) if intervals else None,
        interval_frames_max=max(intervals) if intervals else None,
        interval_seconds=(
            sum(intervals) / len(intervals) / float(track.fps) if intervals else None
        ),
        bframes=any(u.pts != u.dts for u in units) and _reordered(units),
        parameter_sets_in_band=in_band,
    )
    presented = sorted(units, key=lambda u: u.pts)
    indexes = [u.frame_index for u in presented if u.frame_index is not None]
    stamps = StampReport(
        stamped_frames=len(indexes),
        frames=len(units),
        first_index=indexes[0] if indexes else None,
        last_index=indexes[-1] if indexes else None,
        in_order=all(b == a + 1 for a, b in itertools.pairwise(indexes)),
    )
    return VideoReport(
        codec=track.codec.value,
        profile=track.profile,
        level=track.level,
        codec_string=track.codec_string,
        width=track.width,
        height=track.height,
        fps=float(track.fps),
        frames=len(units),
        bitrate=_bitrate(units, duration),
        gop=gop,
        stamps=stamps,
    )


def _reordered(units: tuple[AccessUnit, ...]) -> bool:
    return any(b.pts < a.pts for a, b in itertools.pairwise(units))


def _audio_report(sample: MediaSample, duration: float) -> AudioReport | None:
    track = sample.audio
    if track is None:
        return None
    units = sample.audio_units
    return AudioReport(
        codec="aac",
        codec_string=track.codec_string,
        sample_rate=track.sample_rate,
        channels=track.channels,
        frames=len(units),
        bitrate=_bitrate(units, duration),
    )


def format_report(report: ProbeReport) -> str:
    """The human-readable form printed by ``camsim media probe``."""
    lines = [f"{report.path}  {report.size / 1e6:.1f} MB  {report.duration:.3f} s"]
    v = report.video
    if v is not None:
        lines.append(
            f"  video  {v.codec} {v.profile} level {v.level} ({v.codec_string})  "
            f"{v.width}x{v.height} @ {v.fps:g} fps  {v.frames} frames  {v.bitrate / 1e6:.2f} Mbps"
        )
        g = v.gop
        if g.interval_frames_min is None or g.interval_seconds is None:
            lines.append(f"  gop    {g.keyframes} keyframe(s)")
        else:
            span = (
                f"{g.interval_frames_min}"
                if g.interval_frames_min == g.interval_frames_max
                else f"{g.interval_frames_min}-{g.interval_frames_max}"
            )
            lines.append(
                f"  gop    {g.keyframes} keyframes, every {span} frames "
                f"({g.interval_seconds:.2f} s)  B-frames: {'yes' if g.bframes else 'no'}  "
                f"parameter sets in-band: {'yes' if g.parameter_sets_in_band else 'no'}"
            )
        s = v.stamps
        order = "in order" if s.in_order else "OUT OF ORDER"
        span = f", indexes {s.first_index}..{s.last_index} {order}" if s.stamped_frames else ""
        lines.append(f"  stamps {s.stamped_frames}/{s.frames} frames ({s.coverage:.0%}){span}")
    a = report.audio
    if a is not None:
        lines.append(
            f"  audio  AAC ({a.codec_string})  {a.sample_rate} Hz  {a.channels} ch  "
            f"{a.frames} frames  {a.bitrate / 1e3:.0f} kbps"
        )
    if report.skipped_tracks:
        lines.append(f"  skipped {', '.join(report.skipped_tracks)}")
    return "\n".join(lines)
