"""A UDP port's timed sends, sans I/O, on a fake clock."""

from __future__ import annotations

from camsim.fault.impair import Link, LinkProfile
from camsim.fault.udp import DatagramPort, Received

PEER = ("127.0.0.1", 9000)


def test_sends_leave_at_their_time_in_time_order() -> None:
    port = DatagramPort("test")
    port.send_at(0.30, b"late", PEER, now=0.0)
    port.send_at(0.10, b"early", PEER, now=0.0)
    port.send_at(0.00, b"now", PEER, now=0.0)
    assert port.get_timer() == 0.10
    assert port.datagrams_to_send(0.0) == [(b"now", PEER)]
    assert port.datagrams_to_send(0.05) == []
    assert port.datagrams_to_send(0.2) == [(b"early", PEER)]
    assert port.get_timer() == 0.30
    assert port.datagrams_to_send(0.3) == [(b"late", PEER)]
    assert port.get_timer() is None
    assert port.pending == 0


def test_forward_applies_the_link_and_one_timer_covers_every_packet() -> None:
    port = DatagramPort("test")
    link = Link("1", LinkProfile(delay=0.05, jitter=0.02))
    for index in range(100):
        port.forward(link, bytes([index]), PEER, now=index * 0.001)
    assert port.pending == 100
    first = port.get_timer()
    assert first is not None
    assert 0.03 <= first <= 0.07
    sent = port.datagrams_to_send(1.0)
    assert sorted(data[0] for data, _ in sent) == list(range(100))
    assert port.get_timer() is None


def test_what_arrives_becomes_events() -> None:
    port = DatagramPort("test")
    port.receive_datagram(b"x", PEER, 1.5)
    event = port.next_event()
    assert event == Received(port, b"x", PEER, 1.5)
    assert port.next_event() is None
