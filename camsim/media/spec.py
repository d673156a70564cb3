"""What a synthetic sample is made of: :class:`SampleSpec` and its defaults."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from fractions import Fraction

from wire.codec.nal import VideoCodec

# Bump when the generator's output changes for the same spec, so cached samples are remade.
GENERATOR_VERSION = 2

MAX_WIDTH, MAX_HEIGHT = 8192, 4320


class AudioCodec(StrEnum):
    """The audio a sample carries: AAC as RTMP and HLS want it, or what many cameras send."""

    AAC = "aac"
    PCMU = "pcmu"
    """G.711 μ-law, 8 kHz mono (RFC 3551 §4.5.14, static payload type 0)."""
    PCMA = "pcma"
    """G.711 A-law, 8 kHz mono (static payload type 8)."""
    OPUS = "opus"
    """Opus at 48 kHz (RFC 7587), 20 ms packets."""

    @property
    def is_g711(self) -> bool:
        return self in (AudioCodec.PCMU, AudioCodec.PCMA)


G711_RATE = 8000
OPUS_RATE = 48_000


class H264Profile(StrEnum):
    BASELINE = "baseline"
    MAIN = "main"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class SampleSpec:
    codec: VideoCodec = VideoCodec.H264
    profile: H264Profile = H264Profile.HIGH  # H.264 only; H.265 is always Main
    width: int = 1280
    height: int = 720
    fps: Fraction = Fraction(30)
    gop_seconds: Fraction = Fraction(2)
    bitrate: int = 2_000_000
    duration: Fraction = Fraction(30)
    bframes: int = 0
    audio: bool = True
    audio_bitrate: int = 128_000
    sample_rate: int = 48_000
    channels: int = 2
    audio_codec: AudioCodec = AudioCodec.AAC
    video: bool = True
    """False for an audio-only sample (the video settings then only pace the encoder)."""
    switch_size: tuple[int, int] | None = None
    """H.264 only: from the keyframe nearest the middle of the loop on, the pictures have this
    size, with new parameter sets in band (a camera whose resolution is changed while it
    streams); every keyframe carries its SPS and PPS, and the decoder configuration the first."""

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or self.width < 64 or self.height < 64:
            raise ValueError(f"size {self.width}x{self.height}: need even sizes of at least 64x64")
        if self.width > MAX_WIDTH or self.height > MAX_HEIGHT:
            raise ValueError(
                f"size {self.width}x{self.height}: at most {MAX_WIDTH}x{MAX_HEIGHT} "
                "(the largest picture of H.264 level 6.2)"
            )
        if not 1 <= self.fps <= 240:
            raise ValueError(f"frame rate {self.fps} is outside 1..240")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.keyint < 1:
            raise ValueError("GOP must be at least one frame")
        if self.bframes and self.codec is VideoCodec.H264 and self.profile is H264Profile.BASELINE:
            raise ValueError("H.264 Baseline has no B-frames")
        if self.switch_size is not None:
            width, height = self.switch_size
            if width % 2 or height % 2 or width < 64 or height < 64:
                raise ValueError(f"switch size {width}x{height}: need even sizes of at least 64")
            if self.codec is not VideoCodec.H264 or not self.video:
                raise ValueError("a size switch needs H.264 video")
            if self.switch_frame == 0:
                raise ValueError("a size switch needs a keyframe after the first")
        if not self.video and not self.audio:
            raise ValueError("a sample needs video, audio or both")
        if self.audio_codec.is_g711 and (self.sample_rate, self.channels) != (G711_RATE, 1):
            raise ValueError("G.711 audio is 8000 Hz mono")
        if self.audio_codec is AudioCodec.OPUS and self.sample_rate != OPUS_RATE:
            raise ValueError("Opus audio is made at 48000 Hz")

    @classmethod
    def audio_defaults(cls, codec: AudioCodec) -> dict[str, object]:
        """The sample rate and channels that go with ``codec`` (for :meth:`with_changes`)."""
        if codec.is_g711:
            return {"audio_codec": codec, "sample_rate": G711_RATE, "channels": 1}
        return {
            "audio_codec": codec,
            "sample_rate": OPUS_RATE if codec is AudioCodec.OPUS else 48_000,
        }

    @property
    def frame_count(self) -> int:
        return max(round(self.duration * self.fps), 1)

    @property
    def switch_frame(self) -> int:
        """The first frame at :attr:`switch_size`: the keyframe nearest the middle (0: none)."""
        if self.switch_size is None:
            return 0
        keyframes = round(self.frame_count / 2 / self.keyint)
        frame = keyframes * self.keyint
        return frame if 0 < frame < self.frame_count else 0

    @property
    def keyint(self) -> int:
        """Keyframe interval in frames."""
        return round(self.gop_seconds * self.fps)

    def with_changes(self, **changes: object) -> SampleSpec:
        return replace(self, **changes)  # type: ignore[arg-type]

    def cache_key(self) -> str:
        fields = {k: str(v) for k, v in asdict(self).items()}
        # The keys of samples made before there was a choice stay as they were.
        if self.audio_codec is AudioCodec.AAC:
            del fields["audio_codec"]
        if self.video:
            del fields["video"]
        if self.switch_size is None:
            del fields["switch_size"]
        fields["generator"] = str(GENERATOR_VERSION)
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        if not self.video:
            return f"audio-{self.audio_codec.value}-{digest[:12]}"
        return f"{self.codec.value}-{self.width}x{self.height}-{digest[:12]}"

    @property
    def container(self) -> str:
        """The file format: MP4, or QuickTime for G.711 (which MP4 cannot hold)."""
        return "mov" if self.audio_codec.is_g711 else "mp4"


DEFAULT_SPEC = SampleSpec()


def parse_fps(text: str) -> Fraction:
    """``30``, ``29.97`` (NTSC, taken as 30000/1001) or ``30000/1001``."""
    ntsc = {
        "23.976": Fraction(24000, 1001),
        "29.97": Fraction(30000, 1001),
        "59.94": Fraction(60000, 1001),
    }
    if text in ntsc:
        return ntsc[text]
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"frame rate {text!r}: expected e.g. 30, 29.97 or 30000/1001") from None
    return value.limit_denominator(1001)


def parse_size(text: str) -> tuple[int, int]:
    """``1280x720`` → (1280, 720)."""
    try:
        w, h = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    return w, h
