"""The floor benchmark: refserver with its media dropped unparsed, against the same peers.

The long runs are ``-m bench``; the arithmetic the verdict rests on and the discarding
refserver's entry point are checked by default.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from benchmarks.discarding import (
    STAND_IN_INTERVAL,
    STAND_IN_PAYLOAD_TYPE,
    DiscardingIngestConnection,
    DiscardingPullConnection,
)
from benchmarks.refserver_floor import DISCARDING, TARGETS, Floor, pull_floor, rtmp_floor
from wire.rtmp import RtmpClientConnection
from wire.rtmp.events import PublishRequested, RtmpEvent
from wire.rtmp.states import ServerState
from wire.rtp import RtpPacket
from wire.rtsp import InterleavedFrameReceived, PortRange, ResponseReceived, TransportSpec


def test_what_the_target_leaves_per_stream() -> None:
    floor = Floor("rtmp", 20, 60.0, floor_percent=6.0, peer="nginx", peer_percent=5.5)
    assert floor.target_percent == pytest.approx(11.0)
    # 5 % of a core over 20 streams: 2.5 ms of CPU per stream per second of media.
    assert floor.left_ms_per_stream_second == pytest.approx(2.5)
    missed = Floor("pull", 50, 60.0, floor_percent=40.0, peer="ffmpeg", peer_percent=36.0)
    assert missed.left_ms_per_stream_second == pytest.approx(-0.8)
    assert "-0.80 ms" in missed.format()
    assert TARGETS == {"rtmp": 2.0, "pull": 1.0}


def test_the_discarding_refserver_is_refserver() -> None:
    """The patched entry point starts refserver's own command line."""
    shown = subprocess.run(
        [*DISCARDING, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--pull" in shown.stdout
    assert "--merge-reads" in shown.stdout


def test_the_discarding_connections_are_installed_through_the_public_seam() -> None:
    code = (
        "import benchmarks.discarding as d;"
        "from refserver.ingest.session import IngestSession;"
        "from refserver.pull.attempt import PullAttempt;"
        "assert IngestSession.connection_class is not d.DiscardingIngestConnection;"
        "d.install();"
        "assert IngestSession.connection_class is d.DiscardingIngestConnection;"
        "assert PullAttempt.connection_class is d.DiscardingPullConnection"
    )
    subprocess.run([sys.executable, "-c", code], timeout=60, check=True)


@pytest.mark.bench
@pytest.mark.interop("ffmpeg", "nginx")
def test_rtmp_floor_is_measured_against_nginx() -> None:
    floor = rtmp_floor(streams=20, seconds=30, warmup=8)
    print(floor.format())
    assert floor.floor_percent > 0
    assert floor.peer_percent > 0


@pytest.mark.bench
@pytest.mark.interop("ffmpeg")
def test_pull_floor_is_measured_against_ffmpeg() -> None:
    floor = pull_floor(cameras=50, seconds=30, warmup=8)
    print(floor.format())
    assert floor.floor_percent > 0
    assert floor.peer_percent > 0


def test_the_ingest_connection_drops_reads_once_publishing() -> None:
    rng = random.Random(1935)
    client = RtmpClientConnection(app="live", tc_url="rtmp://h/live", random=rng.randbytes)
    server = DiscardingIngestConnection(now=0.0, random=rng.randbytes)

    def pump() -> list[RtmpEvent]:
        while (to_server := client.data_to_send()) or (to_client := server.data_to_send()):
            if to_server:
                server.receive_data(to_server, 0.0)
            else:
                client.receive_data(to_client, 0.0)
        events = []
        while (event := server.next_event()) is not None:
            events.append(event)
        return events

    client.initiate(0.0)
    pump()
    client.publish("cam1", 0.0)
    assert PublishRequested(1, "cam1", "live") in pump()
    server.accept_publish(1)
    pump()
    assert server.state is ServerState.PUBLISHING
    client.send_video(0, b"\x17\x01\x00\x00\x00")
    client.close()
    assert pump() == []  # neither the video nor the unpublish was read
    assert server.state is ServerState.PUBLISHING


def test_the_pull_connection_stands_in_one_rtp_packet_per_dropped_read() -> None:
    connection = DiscardingPullConnection("rtsp://cam/s")
    spec = TransportSpec(lower_transport="TCP", delivery="unicast", interleaved=PortRange(0, 1))
    connection.setup("rtsp://cam/s/trackID=0", spec)
    answer = "Session: s1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n"
    connection.receive_data(f"RTSP/1.0 200 OK\r\nCSeq: 1\r\n{answer}\r\n".encode(), 0.0)
    assert isinstance(connection.next_event(), ResponseReceived)
    assert connection.rtp_channel == 4  # the camera's choice, not the one asked for
    connection.play()
    connection.receive_data(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: s1\r\n\r\n", 1.0)
    assert isinstance(connection.next_event(), ResponseReceived)
    assert connection.next_event() is None
    connection.receive_data(b"$\x04\x00\x10" + bytes(8), 2.0)  # cut anywhere: never parsed
    connection.receive_data(b"\x00" * 100, 2.1)
    stand_in = connection.next_event()
    assert isinstance(stand_in, InterleavedFrameReceived)
    assert stand_in.channel == 4
    assert RtpPacket.parse(stand_in.payload).payload_type == STAND_IN_PAYLOAD_TYPE
    assert connection.next_event() is None  # one for the reads of a quarter of a second
    connection.receive_data(b"\x00" * 100, 2.0 + STAND_IN_INTERVAL)
    assert isinstance(connection.next_event(), InterleavedFrameReceived)
    assert not connection.closed
