"""The publishing connection as a sans-IO session, with time as an argument: the dialog and its
timings, every phase deadline, the stall, refusals, the end of a publish, and pacing."""

from __future__ import annotations

import ssl

import pytest

from camsim.encoder.connection import (
    PacingWanted,
    Phase,
    PublishConnection,
    SessionEnded,
    TransportClosed,
)
from camsim.encoder.stats import StreamState
from tests.unit.camsim.encoder.dialog import TIMEOUT, Dialog, events_of, new_session
from wire.rtmp.events import StreamDeleted
from wire.session import Cause, Termination


def test_the_dialog_records_every_phase_on_the_callers_clock() -> None:
    session = new_session(now=100.0)
    dialog = Dialog(session)
    session.transport_connected(100.004, tls=True)
    session.tls_established(100.010)
    for now in (100.030, 100.060, 100.100, 100.150):  # handshake, connect, create, publish
        dialog.round_trip(now)
    assert session.send_due(100.175) is not None

    timings = session.timings
    assert timings.tcp_connect_ms == pytest.approx(4)
    assert timings.tls_handshake_ms == pytest.approx(6)
    assert timings.rtmp_handshake_ms == pytest.approx(20)
    assert timings.connect_ms == pytest.approx(30)
    assert timings.create_stream_ms == pytest.approx(40)
    assert timings.publish_ms == pytest.approx(50)
    assert timings.connect_to_publish_ms == pytest.approx(120)
    assert timings.first_frame_ms == pytest.approx(25)
    stats = session.stats
    assert stats.timings is timings
    assert (stats.tcp_connect_ms, stats.connect_to_publish_ms) == (
        timings.tcp_connect_ms,
        timings.connect_to_publish_ms,
    )
    assert session.phase is Phase.STREAMING
    assert stats.state is StreamState.PUBLISHING
    assert events_of(session) == [PacingWanted(100.150)]
    assert session.get_timer() is None  # streaming: no deadline until writes pause


@pytest.mark.parametrize(
    ("round_trips", "phase"),
    [
        (0, Phase.RTMP_HANDSHAKE),  # the server never answers C0+C1
        (1, Phase.CONNECT),  # ... nor connect
        (2, Phase.PUBLISH),  # ... nor createStream
        (3, Phase.PUBLISH),  # ... nor publish
    ],
)
def test_each_phase_has_its_own_deadline(round_trips: int, phase: Phase) -> None:
    session = new_session()
    dialog = Dialog(session)
    session.transport_connected(0.5)
    now = 0.5
    for _ in range(round_trips):
        now += 1.0
        dialog.round_trip(now)
    started = 0.5 if round_trips == 0 else 1.5 if phase is Phase.CONNECT else 2.5
    assert session.phase is phase
    assert session.get_timer() == started + TIMEOUT

    session.handle_timer(started + TIMEOUT - 0.001)
    assert session.termination is None
    session.handle_timer(started + TIMEOUT)
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.TIMED_OUT
    assert ended.phase == phase.value
    assert ended.detail == f"{phase.value} with 127.0.0.1:1935 timed out after 10 s"
    assert events_of(session) == [SessionEnded(ended)]
    assert session.get_timer() is None


def test_tcp_and_tls_deadlines_run_from_the_start_of_their_phase() -> None:
    session = new_session(now=5.0)
    assert session.get_timer() == 15.0
    session.handle_timer(15.0)
    assert session.termination == Termination.timed_out(
        "TCP connect", "TCP connect with 127.0.0.1:1935 timed out after 10 s"
    )

    session = new_session(now=5.0)
    session.transport_connected(7.0, tls=True)
    assert (session.phase, session.get_timer()) == (Phase.TLS, 17.0)
    session.handle_timer(17.0)
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.TIMED_OUT
    assert ended.detail == "TLS handshake with 127.0.0.1:1935 timed out after 10 s"


def test_a_failed_tcp_connect_names_the_address_and_the_error() -> None:
    session = new_session()
    error = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1935)")
    session.connect_failed(0.1, error)
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.PEER_CLOSED
    assert ended.error is error
    assert ended.detail.startswith("TCP connect to 127.0.0.1:1935 failed: [Errno 111]")


def test_tls_failures_from_the_pump_are_told_as_tls_failures() -> None:
    session = new_session()
    session.transport_connected(0.1, tls=True)
    error = ssl.SSLCertVerificationError("certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    session.close(Termination.protocol_error(error, phase="the TLS handshake"))
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.PROTOCOL_ERROR
    assert ended.error is error
    assert ended.detail == (
        "TLS certificate of 127.0.0.1:1935 rejected: unable to get local issuer certificate"
    )
    assert session.stats.error == ended.detail

    session = new_session()
    session.transport_connected(0.1, tls=True)
    session.close(Termination.timed_out("the TLS handshake"))
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.TIMED_OUT
    assert ended.detail == "TLS handshake with 127.0.0.1:1935 timed out after 10 s"


def test_a_server_that_stops_reading_is_a_stall_after_the_timeout() -> None:
    session = new_session()
    started = Dialog(session).publish()
    events_of(session)
    session.writing_paused(started + 1.0)
    assert not session.pacing
    assert session.send_due(started + 1.5) is None  # nothing more piles up meanwhile
    assert session.get_timer() == started + 1.0 + TIMEOUT
    session.handle_timer(started + TIMEOUT)
    assert session.termination is None
    session.handle_timer(started + 1.0 + TIMEOUT)
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.TIMED_OUT
    assert ended.phase == "streaming"
    assert ended.detail == "the server stopped reading for 10 s while streaming"


def test_a_pause_shorter_than_the_timeout_resumes_the_media() -> None:
    session = new_session()
    started = Dialog(session).publish()
    events_of(session)
    session.writing_paused(started + 1.0)
    session.writing_resumed(started + 1.0 + TIMEOUT - 0.1)
    assert session.get_timer() is None
    assert events_of(session) == [PacingWanted(started + 1.0 + TIMEOUT - 0.1)]
    session.handle_timer(started + 1.0 + TIMEOUT)
    assert session.termination is None
    assert session.pacing


def test_a_refused_publish_ends_refused_with_the_status_code() -> None:
    session = new_session()
    dialog = Dialog(session, refuse=("NetStream.Publish.BadName", "cam1 is already publishing"))
    dialog.publish()
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.REFUSED
    assert ended.status == "NetStream.Publish.BadName"
    assert ended.phase == "publish"
    assert ended.detail == (
        "publish rejected: NetStream.Publish.BadName: cam1 is already publishing"
    )
    stats = session.stats
    assert (stats.status_code, stats.status_description) == (
        "NetStream.Publish.BadName",
        "cam1 is already publishing",
    )
    assert stats.error == ended.detail
    assert not session.published


def test_an_error_status_while_streaming_ends_refused() -> None:
    session = new_session()
    dialog = Dialog(session)
    dialog.publish()
    dialog.server._send_status(
        1, {"level": "error", "code": "NetStream.Failed", "description": "x"}
    )
    session.receive_data(dialog.server.data_to_send(), 1.0)
    ended = session.termination
    assert ended is not None
    assert (ended.cause, ended.status) == (Cause.REFUSED, "NetStream.Failed")
    assert ended.detail == "stream rejected: NetStream.Failed: x"


def test_stop_unpublishes_then_ends_as_a_local_close() -> None:
    session = new_session()
    dialog = Dialog(session)
    started = dialog.publish()
    session.stop(started + 3.0)
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.LOCAL_CLOSE
    assert session.stats.error is None
    last_word = session.data_to_send()
    assert b"FCUnpublish" in last_word
    dialog.server.receive_data(last_word, started + 3.0)
    assert any(isinstance(e, StreamDeleted) for e in iter(dialog.server.next_event, None))
    session.connection_lost(started + 3.1, None)
    assert events_of(session)[-1] == TransportClosed(ended)


def test_stop_before_the_transport_is_up_ends_at_once() -> None:
    session = new_session()
    session.stop(0.2)
    ended = session.termination
    assert ended is not None
    assert (ended.cause, ended.phase) == (Cause.LOCAL_CLOSE, "TCP connect")
    assert session.data_to_send() == b""


def test_the_server_closing_says_in_which_phase() -> None:
    session = new_session()
    Dialog(session).publish()
    session.receive_eof(2.0)
    ended = session.termination
    assert ended is not None
    assert (ended.cause, ended.phase) == (Cause.PEER_CLOSED, "streaming")
    assert ended.detail == "server closed the connection during streaming"

    session = new_session()
    session.transport_connected(0.0)
    session.connection_lost(0.5, ConnectionResetError("reset"))
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.PEER_CLOSED
    assert ended.detail == "server closed the connection during RTMP handshake: reset"


def test_a_protocol_error_keeps_the_wire_exception() -> None:
    session = new_session()
    dialog = Dialog(session)
    session.transport_connected(0.0)
    dialog.round_trip(0.1)  # handshake done: chunks from here on
    session.receive_data(b"\xc8" + bytes(20), 0.2)  # fmt 3 on a chunk stream never seen
    ended = session.termination
    assert ended is not None
    assert ended.cause is Cause.PROTOCOL_ERROR
    assert ended.error is not None
    assert ended.detail.startswith("protocol error during RTMP connect: chunk stream 8")


def test_media_is_sent_when_due_with_the_injected_wallclock() -> None:
    session = new_session()
    dialog = Dialog(session)
    started = dialog.publish()
    assert session.send_due(started) == pytest.approx(started + 0.2)  # the frames at 0 ms
    frames = dialog.frames_received()
    assert [f.timestamp for f in frames] == [0, 0]  # the sequence header, then the keyframe
    assert session.send_due(started + 0.1) == pytest.approx(started + 0.2)  # nothing due
    assert session.send_due(started + 0.55) == pytest.approx(started + 0.6)
    assert [f.timestamp for f in dialog.frames_received()] == [0, 0, 250, 500]
    assert (session.stats.video_frames, session.stats.audio_frames) == (3, 3)


def test_bytes_handed_out_are_counted() -> None:
    session = new_session()
    session.transport_connected(0.0)
    data = session.data_to_send()
    assert len(data) == 1 + 1536  # C0 and C1
    assert session.stats.bytes_sent == len(data)


def test_nothing_happens_after_the_end() -> None:
    session: PublishConnection = new_session()
    session.handle_timer(TIMEOUT)
    ended = session.termination
    session.close(Termination.overload("x"))
    session.handle_timer(2 * TIMEOUT)
    session.stop(2 * TIMEOUT)
    assert ended is not None
    assert session.termination is ended
    assert events_of(session) == [SessionEnded(ended)]


def test_a_server_that_stops_reading_before_the_media_starts_is_a_stall_too() -> None:
    session = new_session()
    dialog = Dialog(session)
    session.transport_connected(0.0)
    for now in (0.1, 0.2, 0.3):
        dialog.round_trip(now)
    session.writing_paused(0.35)  # the publish went out, then the server stopped reading
    dialog.round_trip(0.4)  # NetStream.Publish.Start still arrives
    assert session.phase is Phase.STREAMING
    assert events_of(session) == []  # no media while paused
    assert session.get_timer() == 0.4 + TIMEOUT
    session.handle_timer(0.4 + TIMEOUT)
    ended = session.termination
    assert ended is not None
    assert ended.detail == "the server stopped reading for 10 s while streaming"
