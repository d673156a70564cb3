"""A pull attempt against a scripted camera, in memory on a fake clock: what it tells its sink.

The camera replays dialogs from the field: a TP-Link ``o=`` line of seven fields, ``RTP-Info``
with ``rtptime=-1`` beside a good ``seq``, G.711 audio beside H.264 and an ONVIF metadata track.
The sink must hear each bent rule as a warning, get the audio as AAC and be told the size of
every frame on the wire (the bytes of all its packets, not of the last one).
"""

from __future__ import annotations

import itertools

import av
import numpy as np

from refserver.hls import Frame, FrameKind
from refserver.pull.attempt import SessionTimeouts, TranscodeWanted
from tests.unit.refserver.pull.fake_clock import RecordingCamera, RecordingSink, start
from tests.unit.refserver.pull.scripted_camera import (
    PPS,
    SPS,
    ScriptedTrack,
    audio_packets,
    h264_packets,
)

URL = "rtsp://127.0.0.1:554/stream1"
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


def pull(camera: RecordingCamera, enough: int) -> RecordingSink:
    """Run an attempt, on a fake clock, until ``enough`` audio frames arrived, then stop it.

    The transcoding the attempt asks for is done at once, as the worker thread would."""
    dialog = start(camera, timeouts=SessionTimeouts())
    sink = dialog.sink
    dialog.media()
    for event in dialog.of(TranscodeWanted):
        assert isinstance(event, TranscodeWanted)
        dialog.attempt.transcoded(event.track, event.transcoder.transcode(event.frame), event.size)
    audio = [f for _, f, _ in sink.frames if f.kind is FrameKind.AUDIO]
    assert len(audio) >= enough
    dialog.attempt.stop(dialog.now)
    dialog.pump()
    assert dialog.ended is not None
    assert dialog.ended.stopped
    return sink


def of(sink: RecordingSink, kind: FrameKind) -> list[tuple[Frame, int]]:
    return [(frame, size) for _, frame, size in sink.frames if frame.kind is kind]


def test_a_tp_link_dialog_plays_with_its_quirks_named_and_its_g711_as_aac() -> None:
    video = h264_packets(SPS, PPS, seconds=2.0)
    audio = audio_packets(pcma(2.0), samples=160, rate=8000, pt=8)
    tracks = [ScriptedTrack("trackID=1", video), ScriptedTrack("trackID=2", audio)]
    camera = RecordingCamera(SDP, tracks, rtp_info=RTP_INFO)
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
    pictures = of(sink, FrameKind.VIDEO)
    assert len(pictures) == 30
    sent = sum(len(packet.payload) for _, packet in video)
    assert sum(size for _, size in pictures) == sent
    assert pictures[0][1] > 20_000  # an IDR of 15 FU-A packets, not the last one's 300 bytes

    # The audio as AAC: 8 kHz frames of 1024 samples, each second's bytes counted once.
    sounds = of(sink, FrameKind.AUDIO)
    assert len(sounds) >= 14
    ticks = 1024 * 90_000 // 8000
    assert {b.pts - a.pts for (a, _), (b, _) in itertools.pairwise(sounds)} == {ticks}
    pcma_bytes = sum(len(packet.payload) for _, packet in audio)
    assert pcma_bytes - 2 * 1024 <= sum(size for _, size in sounds) <= pcma_bytes


def test_a_picture_counts_the_bytes_of_all_its_packets() -> None:
    # A camera without quirks: only the byte count is under test.
    sdp = SDP.replace("o=RTSP Session", "o=-").split("m=audio")[0]
    video = h264_packets(SPS, PPS, seconds=2.0)
    camera = RecordingCamera(sdp, [ScriptedTrack("trackID=1", video)])
    dialog = start(camera, timeouts=SessionTimeouts())
    dialog.media()
    sink = dialog.sink
    sizes = [size for _, size in of(sink, FrameKind.VIDEO)]
    assert len(sizes) == 30
    assert sum(sizes) == sum(len(packet.payload) for _, packet in video)
    assert sink.warnings == []
