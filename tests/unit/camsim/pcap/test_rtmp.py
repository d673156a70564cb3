"""RTMP sessions read back: the publish dialog, stream names, chunk sizes, media, timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsim.media.loader import load
from camsim.pcap.connection import ConnectionInfo
from camsim.pcap.flow import Endpoint
from camsim.pcap.rtmp import HANDSHAKE_SIZE, RtmpConnectionAnalyser, RtmpSession
from camsim.pcap.tcp import Hole
from tests.conftest import SampleFactory
from wire import flv
from wire.codec.aac import AudioSpecificConfig
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.pcapng import pack_address
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.messages import (
    Command,
    DataMessage,
    SetChunkSize,
    SetPeerBandwidth,
    WindowAckSize,
    status_info,
    to_message,
)

KEY = "live_8f3e2a0c1b"
INFO = ConnectionInfo(
    1, Endpoint(pack_address("10.0.0.2"), 50000), Endpoint(pack_address("10.0.0.1"), 1935), 1, 0.0
)


class Peer:
    """One side's chunk stream, written with wire.rtmp's writer."""

    def __init__(self) -> None:
        self.writer = ChunkWriter()
        self.out = bytearray(b"\x03" + bytes(HANDSHAKE_SIZE - 1))

    def send(self, csid: int, message: RtmpMessage) -> None:
        self.out += self.writer.write(csid, message)

    def command(
        self, name: str, transaction: float, obj: object, *args: object, stream: int = 0
    ) -> None:
        command = Command(name, transaction, obj, list(args))  # type: ignore[arg-type]
        self.send(3, to_message(command, stream_id=stream))

    def chunk_size(self, size: int) -> None:
        self.send(2, to_message(SetChunkSize(size)))
        self.writer.set_chunk_size(size)


def _publish(
    sps: bytes, pps: bytes, asc: bytes, *, start: int = 0, refused: bool = False
) -> tuple[bytes, bytes]:
    client, server = Peer(), Peer()
    client.chunk_size(4096)
    client.command(
        "connect", 1.0, {"app": "live", "tcUrl": "rtmp://10.0.0.1/live", "type": "nonprivate"}
    )
    server.send(2, to_message(WindowAckSize(2_500_000)))
    server.send(2, to_message(SetPeerBandwidth(2_500_000)))
    server.command("_result", 1.0, {}, status_info("status", "NetConnection.Connect.Success", "ok"))
    client.command("releaseStream", 2.0, None, KEY)
    client.command("FCPublish", 3.0, None, KEY)
    client.command("createStream", 4.0, None)
    server.command("_result", 4.0, None, 1.0)
    client.command("publish", 5.0, None, KEY, "live", stream=1)
    if refused:
        server.command(
            "onStatus",
            0.0,
            None,
            status_info("error", "NetStream.Publish.BadName", "Already publishing"),
            stream=1,
        )
        return bytes(client.out), bytes(server.out)
    server.command(
        "onStatus",
        0.0,
        None,
        status_info("status", "NetStream.Publish.Start", f"{KEY} is now published"),
        stream=1,
    )
    metadata = DataMessage("@setDataFrame", ["onMetaData", {"width": 320.0, "encoder": "camsim"}])
    client.send(4, to_message(metadata, stream_id=1))
    record = AvcDecoderConfigurationRecord.build([sps], [pps]).serialize()
    header = flv.VideoTag(flv.VideoFrameType.KEY, 0, record, codec_id=flv.CODEC_ID_AVC).serialize()
    client.send(6, RtmpMessage(9, header, start, 1))
    client.send(
        4,
        RtmpMessage(
            8, flv.AudioTag(flv.SOUND_FORMAT_AAC, asc, packet_type=0).serialize(), start, 1
        ),
    )
    for frame in range(60):
        timestamp = start + frame * 100
        kind = flv.VideoFrameType.KEY if frame % 20 == 0 else flv.VideoFrameType.INTER
        body = flv.VideoTag(
            kind, 1, b"\x00\x00\x00\x02\x09\xf0", codec_id=flv.CODEC_ID_AVC
        ).serialize()
        client.send(6, RtmpMessage(9, body, timestamp, 1))
        client.send(
            4,
            RtmpMessage(
                8,
                flv.AudioTag(flv.SOUND_FORMAT_AAC, b"\x21\x00", packet_type=1).serialize(),
                timestamp,
                1,
            ),
        )
    return bytes(client.out), bytes(server.out)


def _read(client: bytes, server: bytes, pieces: int = 7) -> RtmpSession:
    sessions: list[RtmpSession] = []
    analyser = RtmpConnectionAnalyser(INFO, sessions)
    for data, from_client in ((client, True), (server, False)):
        step = max(1, len(data) // pieces)
        for number, offset in enumerate(range(0, len(data), step), start=1):
            analyser.data(from_client, data[offset : offset + step], number, number * 0.1)
    return sessions[0]


@pytest.fixture(scope="module")
def parameter_sets(make_test_sample: SampleFactory) -> tuple[bytes, bytes, bytes]:
    sample = load(make_test_sample())
    assert sample.video is not None
    assert sample.audio is not None
    sps, pps = sample.video.parameter_sets
    return sps, pps, sample.audio.asc


def test_a_publish(parameter_sets: tuple[bytes, bytes, bytes]) -> None:
    session = _read(*_publish(*parameter_sets))
    assert (session.app, session.tc_url, session.role) == (
        "live",
        "rtmp://10.0.0.1/live",
        "publish",
    )
    assert session.stream_names == [KEY]
    assert session.handshake == "simple"
    assert [c.name for c in session.commands] == [
        "connect",
        "releaseStream",
        "FCPublish",
        "createStream",
        "publish",
        "_result",
        "_result",
        "onStatus",
    ]
    assert [(c, size) for c, _, size in session.chunk_sizes] == [(True, 4096)]
    assert session.window_ack_sizes == [(False, 2_500_000)]
    assert [code for _, code, _ in session.statuses] == ["NetStream.Publish.Start"]
    (stream,) = session.media_streams
    assert (stream.video_codec, stream.audio_codec) == ("H264", "AAC")
    assert stream.video_format is not None
    assert (stream.video_format.width, stream.video_format.height) == (320, 240)
    assert (stream.video_frames, stream.keyframes, stream.audio_frames) == (60, 3, 60)
    assert (
        stream.audio_sample_rate == AudioSpecificConfig.parse(parameter_sets[2]).output_sample_rate
    )
    assert stream.metadata["encoder"] == "camsim"
    assert stream.extended_timestamps == 0


def test_timestamps_past_2_to_the_24(parameter_sets: tuple[bytes, bytes, bytes]) -> None:
    session = _read(*_publish(*parameter_sets, start=0xFFFFFF - 3000))
    (stream,) = session.media_streams
    assert stream.video_frames == 60
    # Frames from 0xFFFFFF on: both tracks, the last 30 of each.
    assert stream.extended_timestamps == 2 * 30 + 0
    assert not stream.backwards
    assert not stream.gaps


def test_a_refused_publish(parameter_sets: tuple[bytes, bytes, bytes]) -> None:
    session = _read(*_publish(*parameter_sets, refused=True))
    assert session.statuses[0][1:] == ("NetStream.Publish.BadName", "Already publishing")


def test_a_hole_stops_the_direction_it_is_in(parameter_sets: tuple[bytes, bytes, bytes]) -> None:
    client, server = _publish(*parameter_sets)
    sessions: list[RtmpSession] = []
    analyser = RtmpConnectionAnalyser(INFO, sessions)
    analyser.data(True, client[: len(client) // 2], 1, 0.0)
    analyser.hole(True, Hole(len(client) // 2, 100, 1, 2))
    analyser.data(True, client[len(client) // 2 + 100 :], 2, 0.1)
    analyser.data(False, server, 3, 0.2)
    session = sessions[0]
    assert [from_client for from_client, _ in session.holes] == [True]
    assert "onStatus" in [c.name for c in session.commands]  # the server side still reads
    assert not session.malformed


def test_a_publish_through_a_real_capture(
    parameter_sets: tuple[bytes, bytes, bytes], tmp_path: Path
) -> None:
    """The same bytes in TCP segments of a pcapng file, on a port no one uses for RTMP."""
    from camsim.pcap.inspect import inspect_capture
    from camsim.pcap.synth import write_capture
    from wire.pcapng import TcpConversation

    client, server = _publish(*parameter_sets)
    conversation = TcpConversation(("10.0.0.2", 50000), ("10.0.0.1", 4444), mss=1000)
    packets = (
        conversation.open() + conversation.send(True, client) + conversation.send(False, server)
    )
    packets += conversation.close()
    result = inspect_capture(
        write_capture(tmp_path / "rtmp.pcapng", [(i * 1000, p) for i, p in enumerate(packets)])
    )
    (session,) = result.rtmp
    assert session.stream_names == [KEY]
    assert session.media_streams[0].video_frames == 60
