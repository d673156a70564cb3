"""Multicast SETUP, sans-IO: which Transport alternatives a camera answers with multicast, and
how the sessions of several clients share one stream per track (no socket sends anything)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest

from camsim.camera.device import Camera
from camsim.camera.multicast import MulticastConfig, MulticastPool, PoolExhausted
from camsim.camera.sender import Address, RtpSender, RtpSink
from camsim.camera.session import MediaSession, Stream, choose_transport
from wire.rtsp import PortRange, Transport, TransportSpec


@dataclass
class FakePorts:
    """The server's UDP pair, as choose_transport sees it."""

    server_port: PortRange = field(default_factory=lambda: PortRange(6970, 6971))

    def sink(self, rtp: Address, rtcp: Address) -> RtpSink:
        raise AssertionError("not used")

    def watch(self, rtcp: Address, ssrc: int, callback: Any) -> None:
        raise AssertionError("not used")

    def unwatch(self, rtcp: Address, ssrc: int) -> None:
        raise AssertionError("not used")


@dataclass
class FakeCamera:
    """What a multicast stream asks of its camera: who it sends to."""

    name: str = "cam1"
    plan: Any = field(
        default_factory=lambda: SimpleNamespace(
            tracks=[SimpleNamespace(clock_rate=90000), SimpleNamespace(clock_rate=48000)]
        )
    )
    subscribed: list[RtpSender] = field(default_factory=list)
    subscriptions: int = 0

    def subscribe(self, senders: Any, now: float) -> dict[int, tuple[int, int]]:
        senders = list(senders)
        self.subscriptions += len(senders)
        self.subscribed += senders
        return {s.track: (s.sequence, s.timestamp(0)) for s in senders}

    def unsubscribe(self, senders: Any) -> None:
        for sender in senders:
            if sender in self.subscribed:
                self.subscribed.remove(sender)

    def media_ticks(self, track: int, now: float) -> int:
        return round(now * 90000)


def answer(value: str, *, multicast: bool) -> TransportSpec | None:
    return choose_transport(Transport.parse(value), 0, FakePorts(), multicast=multicast)


def test_multicast_is_refused_without_a_pool_and_answered_with_one() -> None:
    assert answer("RTP/AVP;multicast", multicast=False) is None  # 461
    reply = answer("RTP/AVP;multicast", multicast=True)
    assert reply is not None
    assert reply.is_multicast
    assert answer("RTP/AVP/UDP;multicast;ttl=8", multicast=True) is not None


def test_the_first_acceptable_alternative_wins() -> None:
    both = "RTP/AVP;multicast,RTP/AVP;unicast;client_port=5000-5001"
    unicast = answer(both, multicast=False)
    assert unicast is not None
    assert not unicast.is_multicast
    assert unicast.client_port == PortRange(5000, 5001)
    reply = answer(both, multicast=True)
    assert reply is not None
    assert reply.is_multicast
    first_unicast = answer(
        "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP;multicast", multicast=True
    )
    assert first_unicast is not None
    assert not first_unicast.is_multicast


@pytest.mark.parametrize(
    "value", ["RTP/AVP/TCP;multicast", "RTP/SAVP;multicast", "RTP/AVP;multicast;mode=record"]
)
def test_multicast_that_is_not_rtp_avp_over_udp_for_play_is_refused(value: str) -> None:
    assert answer(value, multicast=True) is None


@pytest.mark.parametrize("network", ["10.0.0.0/8", "198.18.0.0/24"])
def test_a_pool_must_be_multicast(network: str) -> None:
    with pytest.raises(ValueError, match="not a multicast network"):
        MulticastConfig.parse(network)


def test_the_port_pair_starts_even() -> None:
    with pytest.raises(ValueError, match="even"):
        MulticastConfig.parse("239.1.2.0/24", port=8003)


def make_pool(network: str = "239.1.2.0/24") -> MulticastPool:
    # A socket object only: the fake camera never asks a sender to send.
    return MulticastPool(MulticastConfig.parse(network, ttl=4), cast(socket.socket, object()))


def session(session_id: str, camera: FakeCamera) -> MediaSession:
    return MediaSession(
        session_id,
        cast(Camera, camera),
        None,
        report_interval=0,
        wallclock=lambda: 0.0,
        loop_clock=lambda: 0.0,
    )


def set_up(pool: MulticastPool, media: MediaSession, track: int) -> Stream:
    shared = pool.join(media.camera, track, media.session_id)
    stream = Stream(shared.sender, TransportSpec(delivery="multicast"), None, shared=shared)
    media.add(track, stream, 0.0)
    return stream


def test_sessions_share_one_stream_per_track_sent_once() -> None:
    pool, camera = make_pool(), FakeCamera()
    first, second = session("A", camera), session("B", camera)
    video = set_up(pool, first, 0)
    assert set_up(pool, second, 0).shared is video.shared  # same group, same sender
    audio = set_up(pool, first, 1)
    assert video.shared is not None
    assert audio.shared is not None
    assert video.shared.group != audio.shared.group
    network = ipaddress.ip_network("239.1.2.0/24")
    assert ipaddress.ip_address(video.shared.group) in network
    assert (video.shared.ports, video.shared.ttl) == (PortRange(8002, 8003), 4)

    first.play(1.0)
    assert camera.subscribed == [video.sender, audio.sender]
    second.play(2.0)
    assert camera.subscriptions == 2, "a second member subscribed the stream again"
    assert video.shared.reporter == "A"

    first.pause()
    assert camera.subscribed == [video.sender], "a member's PAUSE stopped the others' stream"
    assert video.shared.reporter == "B"
    second.close()
    assert camera.subscribed == [], "the stream goes on with no member playing"
    assert len(pool.streams) == 2  # A, paused, still has both set up
    first.close()
    assert pool.streams == {}  # every address back in the pool


def test_a_repeated_setup_keeps_the_membership() -> None:
    pool, camera = make_pool(), FakeCamera()
    first = session("A", camera)
    stream = set_up(pool, first, 0)
    first.play(1.0)
    assert set_up(pool, first, 0).shared is stream.shared
    assert camera.subscribed == [stream.sender]
    assert stream.shared is not None
    assert stream.shared.members == {"A"}


def test_an_address_is_reused_once_its_stream_is_gone_and_a_full_pool_refuses() -> None:
    pool, camera = make_pool("239.1.2.7/32"), FakeCamera()
    first = session("A", camera)
    stream = set_up(pool, first, 0)
    assert stream.shared is not None
    assert stream.shared.group == "239.1.2.7"
    with pytest.raises(PoolExhausted):
        pool.join(cast(Camera, camera), 1, "A")
    first.close()
    assert pool.join(cast(Camera, camera), 1, "B").group == "239.1.2.7"
