"""The bench's RTMP player wired to wire.rtmp's server in memory: it plays the named stream, reads
each frame's stamp on arrival, keeps only the frames of the measured interval, and a refused play
ends it with the server's code."""

from __future__ import annotations

import struct
import time

from camsim.bench.playback import RtmpPlayerConnection
from wire.codec.nal import VideoCodec
from wire.codec.stamp import stamp_sei_nal
from wire.rtmp.events import PlayRequested
from wire.rtmp.server import RtmpServerConnection
from wire.session import Cause

AGE_US = 40_000
"""How old each frame's stamp is when the server sends it."""


def _video_body(frame_index: int, wallclock_us: int) -> bytes:
    """An FLV AVC NALU tag body: the stamp SEI and a slice, length-prefixed."""
    sei = stamp_sei_nal(VideoCodec.H264, frame_index, wallclock_us)
    nal_slice = b"\x41" + bytes(range(1, 200))
    nalus = b"".join(struct.pack(">I", len(n)) + n for n in (sei, nal_slice))
    return b"\x27\x01\x00\x00\x00" + nalus


def _exchange(player: RtmpPlayerConnection, server: RtmpServerConnection) -> list[object]:
    """Move bytes both ways until both sides are quiet; the server's events, in order."""
    events: list[object] = []
    for _ in range(20):
        to_server, to_player = player.data_to_send(), server.data_to_send()
        if not to_server and not to_player:
            break
        if to_server:
            server.receive_data(to_server, 0.0)
        if to_player:
            player.receive_data(to_player, 0.0)
        while (event := server.next_event()) is not None:
            events.append(event)
            if isinstance(event, PlayRequested):
                if event.name == "missing":
                    server.reject_play(event.stream_id)
                else:
                    server.accept_play(event.stream_id)
        while player.next_event() is not None:
            pass
    return events


def _player(name: str) -> RtmpPlayerConnection:
    player = RtmpPlayerConnection(app="live", tc_url="rtmp://127.0.0.1/live", name=name)
    player.initiate(0.0)
    return player


def test_a_played_stream_gives_each_stamped_frame_its_age_on_arrival() -> None:
    player, server = _player("bench1"), RtmpServerConnection(now=0.0)
    events = _exchange(player, server)
    (play,) = [e for e in events if isinstance(e, PlayRequested)]
    assert play.name == "bench1"
    assert player.playing
    sent_us = []
    for index in range(3):
        now_us = time.time_ns() // 1000
        sent_us.append(now_us)
        server.send_video(33 * index, _video_body(index, now_us - AGE_US))
    server.send_video(99, b"\x27\x01\x00\x00\x00" + b"\x00\x00\x00\x02\x41\x01")  # no stamp
    _exchange(player, server)
    assert player.frames == 4
    assert len(player.arrivals) == 3
    for (arrived_us, latency_ms), sent in zip(player.arrivals, sent_us, strict=True):
        assert arrived_us >= sent
        # The stamp's age when sent, plus the moments between sending and reading.
        assert AGE_US / 1000 <= latency_ms < AGE_US / 1000 + 1000
        assert latency_ms == (arrived_us - (sent - AGE_US)) / 1000


def test_only_frames_that_arrived_in_the_window_count() -> None:
    player = _player("bench1")
    player.arrivals.extend([(1_000, 900.0), (2_000, 5.0), (2_500, 6.0), (3_000, 7.0)])
    assert player.latencies_ms(2_000, 3_000) == [5.0, 6.0]


def test_a_refused_play_ends_the_player_with_the_servers_code() -> None:
    player, server = _player("missing"), RtmpServerConnection(now=0.0)
    _exchange(player, server)
    assert player.terminated
    assert not player.playing
    termination = player.termination
    assert termination is not None
    assert termination.cause is Cause.REFUSED
    assert termination.status == "NetStream.Play.StreamNotFound"
    assert player.arrivals == []


def test_a_server_that_never_answers_times_the_player_out() -> None:
    player = _player("bench1")
    assert player.get_timer() == player.timeout
    player.handle_timer(player.timeout)
    assert player.terminated
    termination = player.termination
    assert termination is not None
    assert termination.cause is Cause.TIMED_OUT
