"""refserver pulling a camera that replays field dialogs, over loopback: the API and the log say
what the camera bent, the G.711 audio comes out as AAC in the HLS, the bitrate is the camera's.

The camera is :class:`~tests.unit.refserver.pull.scripted_camera.ScriptedCamera` behind an
asyncio server on 127.0.0.1, sending its packets in real time: a TP-Link ``o=`` line of seven
fields, ``RTP-Info`` with ``rtptime=-1``, H.264 beside PCMU and an ONVIF metadata track.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.integration.refserver.harness import running, server_config
from tests.unit.refserver.pull.scripted_camera import (
    PPS,
    SPS,
    ScriptedCamera,
    ScriptedTrack,
    audio_packets,
    h264_packets,
)
from tests.unit.wire.codec.test_h264 import write_sps
from wire.codec.aac import split_adts
from wire.hls import parse
from wire.ts import demux
from wire.ts.muxer import PID_AUDIO, PID_VIDEO

MEDIA_SECONDS = 14.0
SDP = (
    "v=0\r\n"
    "o=RTSP Session 1 1 IN IP4 192.168.0.60\r\n"
    "s=Session streamed by TP-LINK RTSP Server\r\n"
    "t=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
    "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=2\r\n"
    "m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n"
    "a=control:trackID=3\r\n"
)
RTP_INFO = "url={url}/trackID=1;seq=1000;rtptime=-1,url={url}/trackID=2;seq=500;rtptime=77000"


def pcmu(seconds: float) -> list[bytes]:
    """A 600 Hz tone as 20 ms PCMU payloads, encoded by FFmpeg."""
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
    encoder.open()
    t = np.arange(round(8000 * seconds)) / 8000
    samples = (0.4 * 32767 * np.sin(2 * np.pi * 600 * t)).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate, frame.pts = 8000, 0
    data = b"".join(bytes(p) for p in encoder.encode(frame))
    return [data[i : i + 160] for i in range(0, len(data), 160)]


class CameraServer:
    """Scripted cameras on a loopback port, each connection playing a fresh script in real
    time, on an event loop of their own."""

    def __init__(self, script: Callable[[], ScriptedCamera]) -> None:
        self.script = script
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self._server: asyncio.Server | None = None

    def __enter__(self) -> CameraServer:
        self.thread.start()
        start = asyncio.start_server(self._client, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        camera = self.script()
        pacer: asyncio.Task[None] | None = None
        try:
            while data := await reader.read(65536):
                writer.write(camera.receive(data))
                if camera.playing and pacer is None:
                    pacer = asyncio.create_task(self._pace(camera, writer))
        except ConnectionError:
            pass
        finally:
            if pacer is not None:
                pacer.cancel()
            writer.close()

    @staticmethod
    async def _pace(camera: ScriptedCamera, writer: asyncio.StreamWriter) -> None:
        started = time.monotonic()
        while not writer.is_closing():
            writer.write(camera.due(time.monotonic() - started))
            await asyncio.sleep(0.01)


@pytest.fixture
def tp_link_camera() -> Iterator[tuple[str, float]]:
    """The camera's URL and the media bytes per second it sends (RTP payloads)."""
    video = h264_packets(SPS, PPS, seconds=MEDIA_SECONDS)
    audio = audio_packets(pcmu(MEDIA_SECONDS), samples=160, rate=8000, pt=0)
    payload = sum(len(p.payload) for _, p in video) + sum(len(p.payload) for _, p in audio)

    def script() -> ScriptedCamera:
        tracks = [ScriptedTrack("trackID=1", video), ScriptedTrack("trackID=2", audio)]
        return ScriptedCamera(SDP, tracks, rtp_info=RTP_INFO)

    with CameraServer(script) as server:
        yield f"rtsp://127.0.0.1:{server.port}/stream1", payload / MEDIA_SECONDS


def test_a_tp_link_camera_with_g711_plays_as_aac_and_the_api_says_what_it_bent(
    tp_link_camera: tuple[str, float], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, bytes_per_second = tp_link_camera
    sources = (SourceConfig("door", url, PullTransport.TCP),)
    hls = HlsOptions(target_duration=1.0, window=6)
    with (
        caplog.at_level(logging.WARNING),
        running(server_config(tmp_path, sources=sources, hls=hls)) as server,
    ):

        def written() -> int:
            stream = server.api("door")
            return int((stream["hls"] or {}).get("segments_written", 0))

        server.wait_for(lambda: written() >= 8, timeout=MEDIA_SECONDS, what="eight segments")
        stream: dict[str, Any] = server.api("door")
        playlist = parse(server.get("/live/door/index.m3u8").body)
        segment = server.get(f"/live/door/{playlist.segments[-1].uri}").body

    assert stream["tracks"] == {"video": "h264", "audio": "mp4a.40.2", "audio_left_out": None}
    source = stream["source"]
    assert source["state"] == "playing"
    assert source["warnings"] == [
        "SDP line 2: o= has 7 fields, not the 6 of RFC 8866 §5.2: read as "
        "'RTSP Session 1 1 IN IP4 192.168.0.60'",
        f"PLAY answer: RTP-Info: invalid rtptime '-1' for {url}/trackID=1, ignored",
    ]
    assert source["tracks_left_out"] == [
        "application vnd.onvif.metadata/90000: a metadata track, neither audio nor video"
    ]
    # The camera's own rate, not the last packet of each picture (a quarter of it). The API
    # averages whole-second buckets over 5 s, so it may run a bucket ahead or behind.
    ratio = stream["bitrate"] / (8 * bytes_per_second)
    assert 0.75 <= ratio <= 1.3, (stream["bitrate"], 8 * bytes_per_second)

    # The segment carries the audio as ADTS AAC LC at 8 kHz, as long as its video.
    _, pes = demux(segment)
    assert {p.pid for p in pes} == {PID_VIDEO, PID_AUDIO}
    headers = [h for p in pes if p.pid == PID_AUDIO for h, _ in split_adts(p.pes.payload)]
    assert {(h.profile, h.sample_rate, h.channel_configuration) for h in headers} == {(1, 8000, 1)}
    duration = playlist.segments[-1].duration
    assert abs(len(headers) * 1024 / 8000 - duration) <= 0.3

    said = [(r.getMessage(), r.__dict__.get("reason")) for r in caplog.records]
    for warning in source["warnings"]:
        assert said.count(("camera quirk", warning)) == 1
    assert said.count(("track left out", source["tracks_left_out"][0])) == 1


def test_transcoding_off_leaves_the_g711_out_and_says_so(
    tp_link_camera: tuple[str, float], tmp_path: Path
) -> None:
    url, _ = tp_link_camera
    sources = (SourceConfig("door", url, PullTransport.TCP, transcode_audio=False),)
    with running(server_config(tmp_path, sources=sources)) as server:
        server.wait_for(
            lambda: (server.api("door")["hls"] or {}).get("segments_written", 0) >= 2,
            timeout=MEDIA_SECONDS,
            what="two segments",
        )
        stream: dict[str, Any] = server.api("door")
    assert stream["tracks"]["audio"] is None
    assert stream["source"]["tracks_left_out"] == [
        "audio PCMU/8000: transcoding to AAC is off (transcode_audio = false)",
        "application vnd.onvif.metadata/90000: a metadata track, neither audio nor video",
    ]
    assert stream["frames"]["audio"] == 0


def test_parameter_sets_fmp4_cannot_describe_are_said_not_raised(tmp_path: Path) -> None:
    # An SPS declaring a picture 80016 pixels wide: an fMP4 sample entry holds 65535. The pull
    # goes on (nothing packaged), the API says why, and refserver is not hurt.
    video = h264_packets(write_sps(width_in_mbs=5001), PPS, seconds=4.0)
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=huge\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
    )
    with CameraServer(lambda: ScriptedCamera(sdp, [ScriptedTrack("trackID=1", video)])) as camera:
        sources = (SourceConfig("huge", f"rtsp://127.0.0.1:{camera.port}/s", PullTransport.TCP),)
        hls = HlsOptions(target_duration=1.0, segment_format="fmp4")
        with running(server_config(tmp_path, sources=sources, hls=hls)) as server:

            def warned() -> bool:
                warnings = server.api("huge")["source"]["warnings"]
                return any("cannot be packaged" in w for w in warnings)

            server.wait_for(warned, timeout=10, what="the warning")
            stream = server.api("huge")
            assert stream["source"]["state"] == "playing"
            assert (stream["hls"] or {}).get("segments_written", 0) == 0
    [warning] = [w for w in stream["source"]["warnings"] if "cannot be packaged" in w]
    assert "80016x" in warning
