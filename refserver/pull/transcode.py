"""Camera audio that HLS cannot carry, transcoded to AAC LC with PyAV (FFmpeg's codecs).

IP cameras send G.711 (PCMU, PCMA: RFC 3551, the ONVIF Profile S default) or Opus (RFC 7587);
HLS segments carry AAC. The unit is decoded with FFmpeg's ``pcm_mulaw``, ``pcm_alaw`` or
``opus`` decoder and encoded with its native ``aac`` encoder at the source's own sample rate and
channel count, so that a position in samples is a position on the RTP clock: PCMU/PCMA at their
rtpmap rate (8000 Hz), Opus at 48000 Hz (RFC 7587 §4.1 fixes its RTP clock at 48 kHz).

Frames go in as the track produced them (90 kHz ticks, G.711 or Opus bytes) and come out as raw
AAC frames of 1024 samples with their own times. The encoder's packets carry the times of the
samples they decode to (FFmpeg gives its priming frame the time 1024 samples early), so the audio
stays where it was against the video. A gap of up to :data:`MAX_FILL_SECONDS` (lost packets) is
filled with silence; a longer one, or a step back, closes the frame being filled (padded with
silence) and starts again at the new time.

Decoding and encoding cost CPU (see the README) and FFmpeg releases the GIL while it works:
:class:`~refserver.pull.worker.TranscodeQueue` runs them on a worker thread, off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
from av.audio.codeccontext import AudioCodecContext

from refserver.hls import Frame
from refserver.hls.media import CLOCK_RATE
from wire.codec.aac import SAMPLING_FREQUENCIES, AudioSpecificConfig
from wire.codec.errors import CodecError
from wire.sdp import PayloadFormat

DECODERS = {"PCMU": "pcm_mulaw", "PCMA": "pcm_alaw", "OPUS": "opus"}
"""The encoding names (RFC 3551 Table 4, RFC 7587 §7) transcoded, and FFmpeg's decoder for each."""
OPUS_CLOCK_RATE = 48_000
AAC_FRAME = 1024
MAX_FILL_SECONDS = 1.0
"""The longest gap filled with silence; a longer one starts a new run of frames."""

Samples = npt.NDArray[np.float32]


class TranscodeError(Exception):
    """The track cannot be transcoded; the message says why."""


@dataclass(frozen=True, slots=True)
class AudioSource:
    """What is decoded: FFmpeg's decoder, the sample rate and channel count, and a label for
    messages (``PCMU/8000``)."""

    decoder: str
    sample_rate: int
    channels: int
    label: str

    @classmethod
    def of(cls, payload_format: PayloadFormat) -> AudioSource:
        """The source a payload format describes; :class:`TranscodeError` if none."""
        name = payload_format.encoding_name.upper()
        label = f"{payload_format.encoding_name}/{payload_format.clock_rate}"
        decoder = DECODERS.get(name)
        if decoder is None:
            raise TranscodeError(f"no transcoder for {label}")
        rate = payload_format.clock_rate
        if name == "OPUS":
            if rate != OPUS_CLOCK_RATE:
                raise TranscodeError(f"Opus runs on a 48000 Hz RTP clock (RFC 7587), not {rate}")
            # rtpmap always says 2 channels (RFC 7587 §7); sprop-stereo=0 says mono is sent.
            stereo = payload_format.parameters.get("sprop-stereo", "1") != "0"
            channels = 2 if stereo else 1
        else:
            channels = payload_format.channels or 1
        if rate not in SAMPLING_FREQUENCIES:
            raise TranscodeError(f"AAC has no sampling frequency of {rate} Hz")
        if channels not in (1, 2):
            raise TranscodeError(f"{channels} channels (1 or 2 are transcoded)")
        return cls(decoder, rate, channels, label)


class AudioTranscoder:
    """One track's audio to AAC LC; not thread-safe, so one thread at a time uses it."""

    def __init__(self, source: AudioSource) -> None:
        self.source = source
        layout = "mono" if source.channels == 1 else "stereo"
        rate = source.sample_rate
        self._decoder = _audio_context(source.decoder, "r")
        self._decoder.sample_rate = rate
        self._decoder.layout = layout
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        encoder = _audio_context("aac", "w")
        encoder.sample_rate = rate
        encoder.layout = layout
        encoder.format = "fltp"
        # 4 bits a sample per channel, at most 64 kbit/s: 32k for 8 kHz speech, 64k at 48 kHz.
        encoder.bit_rate = min(64_000, 4 * rate) * source.channels
        encoder.time_base = Fraction(1, rate)
        encoder.open()
        self._encoder = encoder
        self._layout = layout
        try:
            self.config = AudioSpecificConfig.parse(bytes(encoder.extradata or b""))
        except CodecError as exc:
            raise TranscodeError(f"the AAC encoder's config does not read: {exc}") from None
        self._pending: Samples = np.zeros((source.channels, 0), np.float32)
        self._start = 0  # position of the first pending sample
        self._next: int | None = None  # position after the last pending sample
        self.failed = 0
        """Units the decoder refused (corrupt Opus packets); each is dropped."""

    def transcode(self, frame: Frame) -> list[Frame]:
        """One G.711 or Opus unit in; the AAC frames it completes out."""
        rate = self.source.sample_rate
        position = round(frame.pts * rate / CLOCK_RATE)  # exact: ticks come from samples
        samples = self._decode(frame.data, position)
        if samples is None or not samples.shape[1]:
            return []
        return [
            Frame.audio(start * CLOCK_RATE // rate, data)
            for data, start in self._encode(samples, position)
        ]

    def _decode(self, data: bytes, position: int) -> Samples | None:
        packet = av.Packet(data)
        packet.pts = position
        try:
            decoded = [
                resampled.to_ndarray()
                for raw in self._decoder.decode(packet)
                for resampled in self._resampler.resample(raw)
            ]
        except av.error.FFmpegError:
            self.failed += 1
            return None
        if not decoded:
            return None
        return np.concatenate(decoded, axis=1).astype(np.float32, copy=False)

    def _encode(self, samples: Samples, position: int) -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        gap = None if self._next is None else position - self._next
        if gap is None:
            self._start = position
        elif 0 < gap <= MAX_FILL_SECONDS * self.source.sample_rate:
            silence = np.zeros((self.source.channels, gap), np.float32)
            self._pending = np.concatenate((self._pending, silence), axis=1)
        elif gap != 0:
            out += self._finish_run()
            self._start = position
        self._pending = np.concatenate((self._pending, samples), axis=1)
        self._next = position + samples.shape[1]
        while self._pending.shape[1] >= AAC_FRAME:
            out += self._encode_frame(self._pending[:, :AAC_FRAME])
            self._pending = self._pending[:, AAC_FRAME:]
        return out

    def _finish_run(self) -> list[tuple[bytes, int]]:
        """The frame being filled, completed with silence."""
        pending = self._pending
        if not pending.shape[1]:
            return []
        padding = np.zeros((self.source.channels, AAC_FRAME - pending.shape[1]), np.float32)
        self._pending = np.zeros((self.source.channels, 0), np.float32)
        return self._encode_frame(np.concatenate((pending, padding), axis=1))

    def _encode_frame(self, samples: Samples) -> list[tuple[bytes, int]]:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout=self._layout
        )
        frame.sample_rate = self.source.sample_rate
        frame.pts = self._start
        frame.time_base = Fraction(1, self.source.sample_rate)
        self._start += AAC_FRAME
        return [
            (bytes(packet), packet.pts)
            for packet in self._encoder.encode(frame)
            if packet.pts is not None
        ]


def _audio_context(codec: str, mode: Literal["r", "w"]) -> AudioCodecContext:
    context = av.CodecContext.create(codec, mode)
    if not isinstance(context, AudioCodecContext):
        raise TranscodeError(f"FFmpeg's {codec} is not an audio codec")
    return context
