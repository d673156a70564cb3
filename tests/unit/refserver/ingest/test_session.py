"""IngestSession on a fake clock: every deadline it owns, every way it ends, no sockets.

A ``wire.rtmp`` client connection plays the publisher; bytes go back and forth in memory and
time is whatever the test says it is, so each timer is checked at the instant before and at the
instant it is due.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.config import Limits
from refserver.hls import HlsOptions
from refserver.ingest.admission import Admission
from refserver.ingest.keys import DENIED_DESCRIPTION, StreamKeys
from refserver.ingest.session import (
    IDLE,
    IngestContext,
    IngestEnded,
    IngestSession,
    PublishingStarted,
)
from refserver.streams import StreamRegistry
from wire.rtmp import RtmpClientConnection
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.events import (
    ConnectAccepted,
    PublishRejected,
    PublishStarted,
    RtmpEvent,
)
from wire.rtmp.messages import Command, MessageType, UserControl, to_message
from wire.rtmp.server import PLAY_STREAM_NOT_FOUND, PUBLISH_BAD_NAME, PUBLISH_DENIED
from wire.session import Cause, Termination

PEER = "127.0.0.1"


class Publisher:
    """A ``wire.rtmp`` client wired to a session in memory, on the test's clock."""

    def __init__(self, session: IngestSession, *, app: str = "live") -> None:
        self.session = session
        self.client = RtmpClientConnection(app=app, tc_url=f"rtmp://127.0.0.1/{app}")
        self.events: list[RtmpEvent] = []
        self.ingest_events: list[object] = []

    def exchange(self, now: float) -> None:
        """Deliver both ways until neither side has anything more to say; what the session
        does not want to read waits in the client."""
        while True:
            to_server = self.client.data_to_send() if self.session.wants_data else b""
            if to_server:
                self.session.receive_data(to_server, now)
            to_client = self.session.data_to_send()
            if to_client:
                self.client.receive_data(to_client, now)
            while (event := self.client.next_event()) is not None:
                self.events.append(event)
            while (ingest_event := self.session.next_event()) is not None:
                self.ingest_events.append(ingest_event)
            if not to_server and not to_client:
                return

    def connect(self, now: float = 0.0) -> None:
        self.client.initiate(now)
        self.exchange(now)
        assert any(isinstance(e, ConnectAccepted) for e in self.events)

    def publish(self, name: str, now: float) -> None:
        self.client.publish(name, now)
        self.exchange(now)

    def raw(self, data: bytes, now: float) -> None:
        self.session.receive_data(data, now)
        self.exchange(now)

    def ended(self) -> Termination:
        [ended] = [e for e in self.ingest_events if isinstance(e, IngestEnded)]
        assert ended.termination == self.session.termination
        return ended.termination


def make_session(
    tmp_path: Path,
    limits: Limits,
    *,
    keys: dict[str, str] | None = None,
    admission: Admission | None = None,
    registry: StreamRegistry | None = None,
    now: float = 0.0,
) -> tuple[IngestSession, Publisher]:
    context = IngestContext(
        registry=registry or StreamRegistry(tmp_path, HlsOptions()),
        keys=StreamKeys(keys or {}),
        limits=limits,
        app="live",
        chunk_size=4096,
    )
    session = IngestSession(context, admission or Admission(limits), now=now, wall_offset=1e9)
    assert session.admit(now, lambda reason: None, peer=f"{PEER}:40000", host=PEER) is None
    return session, Publisher(session)


def ping_requests(count: int) -> bytes:
    writer = ChunkWriter()
    return b"".join(writer.write(2, to_message(UserControl.ping_request(n))) for n in range(count))


# -- the phases of the protocol ------------------------------------------------------------------


def test_handshake_timeout_counts_from_accept(tmp_path: Path) -> None:
    limits = Limits(handshake_timeout=3, setup_timeout=30, idle_timeout=20)
    session, publisher = make_session(tmp_path, limits, now=100.0)
    assert session.get_timer() == 103.0
    session.handle_timer(102.999)
    assert session.termination is None
    session.handle_timer(103.0)
    publisher.exchange(103.0)
    ended = publisher.ended()
    assert ended.cause is Cause.TIMED_OUT
    assert ended.phase == "the handshake"
    assert session.admission.connections == 0
    assert session.get_timer() is None


def test_setup_timeout_for_a_peer_that_connects_but_never_publishes(tmp_path: Path) -> None:
    limits = Limits(handshake_timeout=3, setup_timeout=8, idle_timeout=20)
    session, publisher = make_session(tmp_path, limits)
    publisher.connect(now=1.0)
    # The handshake is done, so its deadline is gone; set-up counts from accept too.
    assert session.get_timer() == 8.0
    # Talking (a ping) is not publishing: it does not move the set-up deadline.
    publisher.raw(ping_requests(1), 7.0)
    assert session.get_timer() == 8.0
    session.handle_timer(8.0)
    publisher.exchange(8.0)
    ended = publisher.ended()
    assert (ended.cause, ended.phase) == (Cause.TIMED_OUT, "publish or play")


def test_idle_publisher_times_out_after_idle_timeout_of_silence(tmp_path: Path) -> None:
    limits = Limits(idle_timeout=5, setup_timeout=30)
    session, publisher = make_session(tmp_path, limits)
    publisher.connect(now=0.0)
    publisher.publish("cam", 1.0)
    assert any(isinstance(e, PublishStarted) for e in publisher.events)
    assert PublishingStarted("cam") in publisher.ingest_events
    registry = session.context.registry
    stream = registry.get("cam")
    assert stream is not None
    assert stream.live
    # Anything from the peer moves the deadline: silence is measured from the last bytes. A
    # read leaves the timer alone (no re-arming per read); its check finds the later deadline.
    publisher.raw(ping_requests(1), 3.0)
    assert session.get_timer() == 5.0
    session.handle_timer(5.0)
    assert session.termination is None
    assert session.get_timer() == 8.0
    session.handle_timer(7.999)
    assert session.termination is None
    session.handle_timer(8.0)
    publisher.exchange(8.0)
    ended = publisher.ended()
    assert (ended.cause, ended.phase, ended.detail) == (Cause.TIMED_OUT, IDLE, "idle for 5 s")
    # The stream it published is given back, and the slot.
    assert not stream.live
    assert session.admission.connections == 0


# -- backpressure ---------------------------------------------------------------------------------


def test_write_timeout_drops_a_peer_that_leaves_our_writes_unread(tmp_path: Path) -> None:
    limits = Limits(write_timeout=4, idle_timeout=2)
    session, publisher = make_session(tmp_path, limits)
    publisher.connect(now=0.0)
    session.writing_paused(1.0)
    # Nothing is read while our answers cannot go out; the peer's silence is then ours.
    assert not session.wants_data
    assert session.get_timer() == 5.0
    session.handle_timer(4.999)
    assert session.termination is None
    session.receive_data(ping_requests(3), 4.5)  # what the pump had read already still counts
    assert session.data_to_send()
    session.handle_timer(5.0)
    ended = session.termination
    assert ended is not None
    assert (ended.cause, ended.detail) == (Cause.OVERLOAD, "peer has not read for 4 s")
    assert session.data_to_send() == b""  # nothing more for a peer that does not read
    assert isinstance(session.next_event(), IngestEnded)


def test_a_peer_that_reads_again_is_read_again_and_not_idle(tmp_path: Path) -> None:
    limits = Limits(write_timeout=4, idle_timeout=2)
    session, publisher = make_session(tmp_path, limits)
    publisher.connect(now=0.0)
    session.writing_paused(1.0)
    session.writing_resumed(4.0)
    assert session.wants_data
    # The peer was not silent while we did not read it: idleness counts from the resume.
    assert session.get_timer() == 6.0
    session.handle_timer(5.0)
    assert session.termination is None


# -- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cam?key=wrong", "cam", "other?key=secret"])
def test_a_refused_key_is_answered_after_the_slow_down_reading_nothing(
    tmp_path: Path, name: str
) -> None:
    limits = Limits(key_failure_delay=2, idle_timeout=1)
    session, publisher = make_session(tmp_path, limits, keys={"cam": "secret"})
    publisher.connect(now=0.0)
    publisher.publish(name, 10.0)
    assert not any(isinstance(e, PublishRejected) for e in publisher.events)
    assert not session.wants_data  # a guess made meanwhile would be free
    assert session.get_timer() == 12.0  # no idle timeout while we are the ones not reading
    session.handle_timer(11.999)
    publisher.exchange(11.999)
    assert not any(isinstance(e, PublishRejected) for e in publisher.events)
    session.handle_timer(12.0)
    publisher.exchange(12.0)
    [rejected] = [e for e in publisher.events if isinstance(e, PublishRejected)]
    assert (rejected.code, rejected.description) == (PUBLISH_DENIED, DENIED_DESCRIPTION)
    ended = publisher.ended()
    assert (ended.cause, ended.status) == (Cause.REFUSED, PUBLISH_DENIED)


def test_the_slow_down_doubles_per_refused_key_from_one_address(tmp_path: Path) -> None:
    limits = Limits(key_failure_delay=1, key_failure_limit=0)
    admission = Admission(limits)
    registry = StreamRegistry(tmp_path, HlsOptions())
    due = []
    now = 0.0
    for _ in range(3):
        session, publisher = make_session(
            tmp_path, limits, keys={"cam": "secret"}, admission=admission, registry=registry
        )
        publisher.connect(now)
        publisher.publish("cam?key=wrong", now)
        timer = session.get_timer()
        assert timer is not None
        due.append(timer - now)
        now = timer
        session.handle_timer(now)
        assert session.termination is not None
        assert session.termination.cause is Cause.REFUSED
    assert due == [1.0, 2.0, 4.0]


def test_a_guess_while_the_last_answer_is_pending_is_refused_unread(tmp_path: Path) -> None:
    limits = Limits(key_failure_delay=5, key_failure_limit=0)
    admission = Admission(limits)
    registry = StreamRegistry(tmp_path, HlsOptions())
    first, one = make_session(tmp_path, limits, keys={"cam": "secret"}, admission=admission)
    one.connect(0.0)
    one.publish("cam?key=wrong", 0.0)
    second, two = make_session(
        tmp_path, limits, keys={"cam": "secret"}, admission=admission, registry=registry
    )
    two.connect(1.0)
    two.publish("cam?key=secret", 1.0)  # the right key, but its answer would be free
    assert not any(isinstance(e, PublishStarted) for e in two.events)
    assert not second.wants_data
    # It counts as a refusal too: the second one waits twice the first delay.
    assert second.get_timer() == 1.0 + 10.0
    second.handle_timer(11.0)
    two.exchange(11.0)
    ended = two.ended()
    assert (ended.cause, ended.status) == (Cause.REFUSED, PUBLISH_DENIED)
    assert first.get_timer() == 5.0


def test_a_peer_that_hangs_up_before_its_refusal_leaves_nothing_behind(tmp_path: Path) -> None:
    limits = Limits(key_failure_delay=2)
    session, publisher = make_session(tmp_path, limits, keys={"cam": "secret"})
    publisher.connect(0.0)
    publisher.publish("cam?key=wrong", 0.0)
    session.connection_lost(1.0, ConnectionResetError())
    assert session.admission.connections == 0
    assert session.get_timer() is None
    session.handle_timer(5.0)
    assert session.data_to_send() == b""
    publisher.exchange(5.0)
    assert publisher.ended().cause is Cause.PEER_CLOSED
    assert PUBLISH_DENIED not in str(publisher.events)


def test_the_right_key_publishes_without_delay(tmp_path: Path) -> None:
    session, publisher = make_session(tmp_path, Limits(key_failure_delay=5), keys={"cam": "s"})
    publisher.connect(0.0)
    publisher.publish("cam?key=s", 0.0)
    assert any(isinstance(e, PublishStarted) for e in publisher.events)
    assert session.publishing
    assert session.publisher is not None
    assert session.publisher.since == 1e9  # the caller's clock, turned into wall-clock time


def test_an_application_not_served_is_refused_with_bad_name(tmp_path: Path) -> None:
    session, _ = make_session(tmp_path, Limits())
    publisher = Publisher(session, app="other")
    publisher.connect(0.0)
    publisher.publish("cam", 0.0)
    [rejected] = [e for e in publisher.events if isinstance(e, PublishRejected)]
    assert rejected.code == PUBLISH_BAD_NAME
    ended = publisher.ended()
    assert (ended.cause, ended.status) == (Cause.REFUSED, PUBLISH_BAD_NAME)


def test_a_name_already_published_is_refused_with_bad_name(tmp_path: Path) -> None:
    limits = Limits()
    admission = Admission(limits)
    registry = StreamRegistry(tmp_path, HlsOptions())
    _, owner = make_session(tmp_path, limits, admission=admission, registry=registry)
    owner.connect(0.0)
    owner.publish("cam", 0.0)
    _, late = make_session(tmp_path, limits, admission=admission, registry=registry)
    late.connect(1.0)
    late.publish("cam", 1.0)
    ended = late.ended()
    assert (ended.cause, ended.status) == (Cause.REFUSED, PUBLISH_BAD_NAME)
    assert any(isinstance(e, PublishStarted) for e in owner.events)


def test_play_is_refused_with_stream_not_found(tmp_path: Path) -> None:
    session, publisher = make_session(tmp_path, Limits())
    publisher.connect(0.0)
    writer = ChunkWriter()
    create = writer.write(3, to_message(Command("createStream", 7.0)))
    play = writer.write(8, to_message(Command("play", 0.0, None, ["cam"]), stream_id=1))
    session.receive_data(create + play, 1.0)
    assert PLAY_STREAM_NOT_FOUND.encode() in session.data_to_send()
    ended = session.termination
    assert ended is not None
    assert (ended.cause, ended.status) == (Cause.REFUSED, PLAY_STREAM_NOT_FOUND)


# -- other ends ------------------------------------------------------------------------------------


def test_publish_and_garbage_in_one_read_end_with_a_protocol_error(tmp_path: Path) -> None:
    session, publisher = make_session(tmp_path, Limits())
    publisher.connect(0.0)
    writer = ChunkWriter()
    publish = to_message(Command("publish", 0.0, None, ["cam", "live"]), stream_id=1)
    garbage = RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)
    data = writer.write(3, to_message(Command("createStream", 9.0)))
    publisher.raw(data + writer.write(8, publish) + writer.write(3, garbage), 1.0)
    ended = publisher.ended()
    assert ended.cause is Cause.PROTOCOL_ERROR
    assert "AMF0" in ended.detail
    # The publish died with its connection: nothing was claimed.
    assert session.stream is None
    assert session.context.registry.get("cam") is None
    assert session.admission.connections == 0


def test_a_peer_that_closes_ends_with_peer_closed(tmp_path: Path) -> None:
    session, publisher = make_session(tmp_path, Limits())
    publisher.connect(0.0)
    session.receive_eof(1.0)
    publisher.exchange(1.0)
    assert publisher.ended().cause is Cause.PEER_CLOSED
    assert session.admission.connections == 0


def test_eviction_ends_at_once_with_overload_and_sends_nothing(tmp_path: Path) -> None:
    limits = Limits(max_connections=2, max_connections_per_ip=8)
    admission = Admission(limits)
    evicted: list[str] = []
    context = IngestContext(
        StreamRegistry(tmp_path, HlsOptions()), StreamKeys({}), limits, "live", 4096
    )
    sessions = [IngestSession(context, admission, now=float(n)) for n in range(3)]
    assert sessions[0].admit(0.0, evicted.append, peer="10.0.0.1:1", host="10.0.0.1") is None
    assert sessions[1].admit(1.0, evicted.append, peer="10.0.0.1:2", host="10.0.0.1") is None
    # A newcomer from another address: the address holding two unproven slots gives one up.
    assert sessions[2].admit(2.0, evicted.append, peer="10.0.0.2:1", host="10.0.0.2") is None
    [reason] = evicted
    sessions[0].evict(reason)
    ended = sessions[0].termination
    assert ended is not None
    assert ended.cause is Cause.OVERLOAD
    assert sessions[0].data_to_send() == b""
    assert admission.connections == 2  # the evicted slot was released once, by admission


def test_a_refused_admission_holds_no_slot(tmp_path: Path) -> None:
    limits = Limits(max_connections=1, max_connections_per_ip=1)
    admission = Admission(limits)
    context = IngestContext(
        StreamRegistry(tmp_path, HlsOptions()), StreamKeys({}), limits, "live", 4096
    )
    first, second = (IngestSession(context, admission, now=0.0) for _ in range(2))
    assert first.admit(0.0, lambda reason: None, peer="10.0.0.1:1", host="10.0.0.1") is None
    refusal = second.admit(0.0, lambda reason: None, peer="10.0.0.1:2", host="10.0.0.1")
    assert refusal == "already 1 connections from 10.0.0.1"
    assert admission.connections == 1
