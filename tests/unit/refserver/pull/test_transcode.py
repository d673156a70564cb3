"""G.711 and Opus from RTP to AAC frames, without sockets: the depacketizer, the pulled track and
the transcoder, judged by decoding the AAC again (FFmpeg's decoder) and listening to it: the
tone's pitch, where the sound starts against the timeline, and no hole where packets were lost.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import av
import numpy as np
import pytest

from refserver.hls import Frame, FrameKind
from refserver.hls.media import CLOCK_RATE
from refserver.pull.tracks import Track, presentation_from_sdp
from refserver.pull.transcode import AudioTranscoder
from wire.codec.aac import AOT_AAC_LC
from wire.payload import AudioAccessUnit, PacketLoss, PayloadDiscarded
from wire.payload.whole import WholePayloadDepacketizer
from wire.rtp import RtpPacket
from wire.sdp import SessionDescription

BASE = 10 * CLOCK_RATE
PCMU_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=audio 0 RTP/AVP 0\r\na=control:trackID=1\r\n"
)
OPUS_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n{fmtp}a=control:trackID=1\r\n"
)


def tone(rate: int, seconds: float, frequency: float, *, silent_until: float = 0.0) -> np.ndarray:
    """A sine at half scale, silent before ``silent_until`` seconds, as 16-bit samples."""
    t = np.arange(round(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * frequency * t)
    wave[t < silent_until] = 0
    return (wave * 32767).astype(np.int16)


def encoded(codec: str, samples: np.ndarray, rate: int, channels: int, frame: int) -> list[bytes]:
    """``samples`` encoded by FFmpeg's ``codec`` in units of ``frame`` samples (one RTP
    payload each), as a camera sends them."""
    layout = "mono" if channels == 1 else "stereo"
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = rate, layout, "s16"
    if codec == "libopus":
        encoder.bit_rate = 64000
    encoder.open()
    interleaved = np.repeat(samples, channels).reshape(1, -1)
    payloads: list[bytes] = []
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = interleaved[:, start * channels : (start + frame) * channels]
        audio = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout=layout)
        audio.sample_rate, audio.pts = rate, start
        payloads += [bytes(packet) for packet in encoder.encode(audio)]
    return payloads


def rtp(payloads: list[bytes], *, pt: int, step: int, seq: int = 65500, ts: int = 0xFFFF0000):
    return [
        RtpPacket(pt, (seq + i) & 0xFFFF, (ts + i * step) & 0xFFFF_FFFF, 0x42, payload)
        for i, payload in enumerate(payloads)
    ]


def track_of(sdp: str) -> Track:
    presentation = presentation_from_sdp(SessionDescription.parse(sdp))
    assert presentation.left_out == ()
    [track] = presentation.tracks
    track.prepare(BASE)
    return track


def transcode(track: Track, packets: list[RtpPacket]) -> list[Frame]:
    transcoder = track.transcoder
    assert transcoder is not None
    out: list[Frame] = []
    for packet in packets:
        for frame in track.receive(packet, 0.0):
            out += transcoder.transcode(frame)
    return out


def decoded(transcoder: AudioTranscoder, frames: list[Frame]) -> tuple[int, np.ndarray]:
    """The AAC frames decoded: the 90 kHz time of the first sample, and the samples (channel
    0), laid out by the frames' own timestamps."""
    rate = transcoder.source.sample_rate
    decoder = av.CodecContext.create("aac", "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.extradata = transcoder.config.serialize()
    start = frames[0].pts
    pieces = []
    for frame in frames:
        packet = av.Packet(frame.data)
        packet.pts, packet.time_base = frame.pts, Fraction(1, CLOCK_RATE)
        for audio in decoder.decode(packet):
            pieces.append(((frame.pts - start) * rate // CLOCK_RATE, audio.to_ndarray()[0]))
    length = max(offset + len(samples) for offset, samples in pieces)
    timeline = np.zeros(length, np.float32)
    for offset, samples in pieces:
        timeline[offset : offset + len(samples)] = samples
    return start, timeline


def pitch(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def onset(start: int, timeline: np.ndarray, rate: int) -> float:
    """Seconds since the track's start at which the sound first reaches a quarter of scale."""
    first = int(np.argmax(np.abs(timeline) > 0.25))
    return (start - BASE) / CLOCK_RATE + first / rate


def test_pcmu_becomes_aac_lc_at_8_khz_in_tune_and_in_time() -> None:
    track = track_of(PCMU_SDP)
    transcoder = track.transcoder
    assert transcoder is not None
    assert (transcoder.config.object_type, transcoder.config.sample_rate) == (AOT_AAC_LC, 8000)
    assert track.audio is not None
    assert track.audio.asc == transcoder.config
    samples = tone(8000, 3.0, 1000.0, silent_until=1.0)
    frames = transcode(track, rtp(encoded("pcm_mulaw", samples, 8000, 1, 160), pt=0, step=160))
    assert {f.kind for f in frames} == {FrameKind.AUDIO}
    ticks = 1024 * CLOCK_RATE // 8000
    # The encoder's priming frame comes first, one frame ahead of the track's start.
    assert [f.pts for f in frames] == [BASE - ticks + n * ticks for n in range(len(frames))]
    assert len(frames) * 1024 >= len(samples) - 2 * 1024
    start, timeline = decoded(transcoder, frames)
    assert onset(start, timeline, 8000) == pytest.approx(1.0, abs=0.02)
    assert pitch(timeline[12000:20000], 8000) == pytest.approx(1000, abs=5)


def test_lost_packets_are_silence_not_a_hole() -> None:
    track = track_of(PCMU_SDP)
    packets = rtp(encoded("pcm_mulaw", tone(8000, 2.0, 500.0), 8000, 1, 160), pt=0, step=160)
    frames = transcode(track, packets[:40] + packets[43:])  # 60 ms lost
    ticks = 1024 * CLOCK_RATE // 8000
    assert [b.pts - a.pts for a, b in itertools.pairwise(frames)] == [ticks] * (len(frames) - 1)
    assert track.lost == 3


def test_a_long_gap_starts_a_new_run_at_its_own_time() -> None:
    track = track_of(PCMU_SDP)
    payloads = encoded("pcm_mulaw", tone(8000, 2.0, 500.0), 8000, 1, 160)
    first = rtp(payloads[:50], pt=0, step=160, seq=0, ts=0)
    second = rtp(payloads[50:], pt=0, step=160, seq=50, ts=50 * 160 + 5 * 8000)  # 5 s later
    frames = transcode(track, first + second)
    steps = {b.pts - a.pts for a, b in itertools.pairwise(frames)}
    assert max(steps) > 4 * CLOCK_RATE
    assert min(steps) == 1024 * CLOCK_RATE // 8000


@pytest.mark.parametrize(("fmtp", "channels"), [("", 2), ("a=fmtp:111 sprop-stereo=0\r\n", 1)])
def test_opus_becomes_aac_lc_at_48_khz(fmtp: str, channels: int) -> None:
    track = track_of(OPUS_SDP.format(fmtp=fmtp))
    transcoder = track.transcoder
    assert transcoder is not None
    config = transcoder.config
    assert (config.object_type, config.sample_rate, config.channels) == (
        AOT_AAC_LC,
        48000,
        channels,
    )
    samples = tone(48000, 2.0, 440.0, silent_until=0.5)
    payloads = encoded("libopus", samples, 48000, 2, 960)
    frames = transcode(track, rtp(payloads, pt=111, step=960))
    start, timeline = decoded(transcoder, frames)
    assert pitch(timeline[48000:90000], 48000) == pytest.approx(440, abs=3)
    # Opus itself delays by its look-ahead (6.5 ms); nothing here adds more.
    assert onset(start, timeline, 48000) == pytest.approx(0.5, abs=0.02)


def test_a_corrupt_opus_packet_is_dropped_and_counted() -> None:
    track = track_of(OPUS_SDP.format(fmtp=""))
    transcoder = track.transcoder
    assert transcoder is not None
    payloads = encoded("libopus", tone(48000, 1.0, 440.0), 48000, 2, 960)
    payloads[10] = b"\xff" * 3  # a TOC byte announcing frames the packet does not have
    frames = transcode(track, rtp(payloads, pt=111, step=960))
    assert transcoder.failed == 1
    assert len(frames) >= 40


def test_whole_payload_depacketizer_events() -> None:
    depacketizer = WholePayloadDepacketizer()
    packets = rtp([b"a", b"b", b"c", b"", b"e"], pt=0, step=160, seq=0xFFFF, ts=0)
    events = [depacketizer.receive(p) for p in (packets[0], packets[0], packets[2], packets[3])]
    assert events == [
        [AudioAccessUnit(b"a", 0)],
        [],
        [PacketLoss(0, 1), AudioAccessUnit(b"c", 320)],
        [PayloadDiscarded(480, "empty payload")],
    ]
