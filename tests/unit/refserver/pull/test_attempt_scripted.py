"""A pull attempt against a scripted camera, in memory: what the session tells its sink.

The camera replays dialogs from the field: a TP-Link ``o=`` line of seven fields, ``RTP-Info``
with ``rtptime=-1`` beside a good ``seq``, G.711 audio beside H.264 and an ONVIF metadata track.
The sink must hear each bent rule as a warning, get the audio as AAC and be told the size of
every frame on the wire (the bytes of all its packets, not of the last one).
"""

from __future__ import annotations

import asyncio
import itertools

import av
import numpy as np

from refserver.hls import Frame, FrameKind
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import PullAttempt, SessionTimeouts
from refserver.pull.link import Link
from refserver.pull.tracks import Presentation, Track
from tests.unit.refserver.pull.scripted_camera import (
    PPS,
    SPS,
    ScriptedCamera,
    ScriptedTrack,
    audio_packets,
    h264_packets,
)

URL = "rtsp://127.0.0.1:554/stream1"
BASE = 10 * 90_000
SDP = (
    "v=0\r\n"
    "o=RTSP Session 1 1 IN IP4 192.168.0.60\r\n"  # seven fields: the username has a space
    "s=Session streamed by TP-LINK RTSP Server\r\n"
    "t=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
    "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=2\r\n"
    "m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n"
    "a=control:trackID=3\r\n"
)
RTP_INFO = "url={url}/trackID=1;seq=1000;rtptime=-1,url={url}/trackID=2;seq=500;rtptime=77000"


def pcma(seconds: float) -> list[bytes]:
    """A 400 Hz tone as 20 ms PCMA payloads, encoded by FFmpeg."""
    encoder = av.CodecContext.create("pcm_alaw", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
    encoder.open()
    t = np.arange(round(8000 * seconds)) / 8000
    samples = (0.4 * 32767 * np.sin(2 * np.pi * 400 * t)).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate, frame.pts = 8000, 0
    data = b"".join(bytes(p) for p in encoder.encode(frame))
    return [data[i : i + 160] for i in range(0, len(data), 160)]


class ScriptedLink(Link):
    """The camera on the other end of a link that is only memory."""

    def __init__(self, camera: ScriptedCamera) -> None:  # no socket, so no Link.__init__
        self.camera = camera
        self.peer_host = self.local_host = "127.0.0.1"
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._media_sent = False

    async def read(self) -> bytes:
        return await self._queue.get()

    def write(self, data: bytes) -> None:
        answer = self.camera.receive(data)
        if answer:
            self._queue.put_nowait(answer)
        if self.camera.playing and not self._media_sent:
            self._media_sent = True
            self._queue.put_nowait(self.camera.media())

    def close(self) -> None:
        self._queue.put_nowait(b"")


class RecordingSink:
    def __init__(self) -> None:
        self.presentation: Presentation | None = None
        self.frames: list[tuple[Track, Frame, int]] = []
        self.warnings: list[str] = []

    def started(self, presentation: Presentation, peer: str) -> None:
        self.presentation = presentation

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        self.frames.append((track, frame, size))

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def of(self, kind: FrameKind) -> list[tuple[Frame, int]]:
        return [(frame, size) for _, frame, size in self.frames if frame.kind is kind]


def pull(camera: ScriptedCamera, enough: int) -> RecordingSink:
    """Run an attempt until ``enough`` audio frames arrived (at most 20 s), then stop it."""
    sink = RecordingSink()

    async def scenario() -> None:
        stopping = asyncio.Event()
        attempt = PullAttempt(
            CameraAddress.parse(URL),
            ScriptedLink(camera),
            sink,
            transport="tcp",
            timeouts=SessionTimeouts(),
            base=lambda: BASE,
            stopping=stopping,
        )
        running = asyncio.create_task(attempt.run())
        for _ in range(200):
            if len(sink.of(FrameKind.AUDIO)) >= enough or running.done():
                break
            await asyncio.sleep(0.1)
        stopping.set()
        await asyncio.wait_for(running, 10)

    asyncio.run(scenario())
    return sink


def test_a_tp_link_dialog_plays_with_its_quirks_named_and_its_g711_as_aac() -> None:
    video = h264_packets(SPS, PPS, seconds=2.0)
    audio = audio_packets(pcma(2.0), samples=160, rate=8000, pt=8)
    tracks = [ScriptedTrack("trackID=1", video), ScriptedTrack("trackID=2", audio)]
    camera = ScriptedCamera(SDP, tracks, rtp_info=RTP_INFO)
    sink = pull(camera, enough=14)

    assert sink.warnings == [
        "SDP line 2: o= has 7 fields, not the 6 of RFC 8866 §5.2: read as "
        "'RTSP Session 1 1 IN IP4 192.168.0.60'",
        f"PLAY answer: RTP-Info: invalid rtptime '-1' for {URL}/trackID=1, ignored",
    ]
    assert sink.presentation is not None
    assert sink.presentation.left_out == (
        "application vnd.onvif.metadata/90000: a metadata track, neither audio nor video",
    )
    assert [r.method for r in camera.requests][-1] == "TEARDOWN"

    # Every picture, each counted at the bytes of all the packets that carried it.
    pictures = sink.of(FrameKind.VIDEO)
    assert len(pictures) == 30
    sent = sum(len(packet.payload) for _, packet in video)
    assert sum(size for _, size in pictures) == sent
    assert pictures[0][1] > 20_000  # an IDR of 15 FU-A packets, not the last one's 300 bytes

    # The audio as AAC: 8 kHz frames of 1024 samples, each second's bytes counted once.
    sounds = sink.of(FrameKind.AUDIO)
    assert len(sounds) >= 14
    ticks = 1024 * 90_000 // 8000
    assert {b.pts - a.pts for (a, _), (b, _) in itertools.pairwise(sounds)} == {ticks}
    pcma_bytes = sum(len(packet.payload) for _, packet in audio)
    assert pcma_bytes - 2 * 1024 <= sum(size for _, size in sounds) <= pcma_bytes


def test_a_picture_counts_the_bytes_of_all_its_packets() -> None:
    # A camera without quirks: only the byte count is under test.
    sdp = SDP.replace("o=RTSP Session", "o=-").split("m=audio")[0]
    video = h264_packets(SPS, PPS, seconds=2.0)
    camera = ScriptedCamera(sdp, [ScriptedTrack("trackID=1", video)])
    sink = RecordingSink()

    async def scenario() -> None:
        stopping = asyncio.Event()
        attempt = PullAttempt(
            CameraAddress.parse(URL),
            ScriptedLink(camera),
            sink,
            transport="tcp",
            timeouts=SessionTimeouts(),
            base=lambda: BASE,
            stopping=stopping,
        )
        running = asyncio.create_task(attempt.run())
        for _ in range(100):
            if len(sink.frames) >= 30:
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(running, 10)

    asyncio.run(scenario())
    sizes = [size for _, size in sink.of(FrameKind.VIDEO)]
    assert len(sizes) == 30
    assert sum(sizes) == sum(len(packet.payload) for _, packet in video)
    assert sink.warnings == []
