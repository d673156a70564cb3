"""Kernel faults on the router of a namespace topology, each proven by traffic across it."""

from __future__ import annotations

import math
import socket
import time

import pytest

from camsim.fault.kernel import LossMethod, NetemUnavailable
from camsim.fault.netns import Topology, netem_available
from camsim.fault.netns_plugin import TopologyFactory, netns_topology, skip_without_netem
from tests.integration.fault.netns_harness import TcpServer, drain, tcp_exchange, udp_socket

__all__ = ["netns_topology"]  # the fixture, imported for pytest


@pytest.fixture
def topology(netns_topology: TopologyFactory) -> Topology:
    return netns_topology()


@pytest.fixture
def rtsp_server(topology: Topology):
    server = TcpServer(topology, "wan", (topology.wan_address, 554))
    yield server
    server.close()


def test_port_554_dropped_times_out_and_rejected_is_refused(
    topology: Topology, rtsp_server: TcpServer
) -> None:
    target = (topology.wan_address, 554)
    assert tcp_exchange(topology, "lan", target) == b"hello"  # open before the fault

    topology.faults.change(rtsp_blocked="drop")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        tcp_exchange(topology, "lan", target, timeout=1.5)
    assert time.monotonic() - started >= 1.4  # silence until the client gives up

    topology.faults.change(rtsp_blocked="reject")
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        tcp_exchange(topology, "lan", target, timeout=5)
    assert time.monotonic() - started < 1.0  # a reset answers at once

    other = TcpServer(topology, "wan", (topology.wan_address, 8554))
    try:  # only that port is blocked: RTSP on another port gets through
        assert tcp_exchange(topology, "lan", (topology.wan_address, 8554)) == b"hello"
    finally:
        other.close()
    topology.faults.change(rtsp_blocked=None)
    assert tcp_exchange(topology, "lan", target) == b"hello"
    assert [change.settings for change in topology.faults.history] == [
        {"rtsp_blocked": "drop"}, {"rtsp_blocked": "reject"}, {"rtsp_blocked": None}
    ]  # fmt: skip
    times = [change.at for change in topology.faults.history]
    assert times == sorted(times)
    assert abs(times[-1] - time.time()) < 5


def test_udp_blocked_drops_datagrams_both_ways_but_not_tcp(topology: Topology) -> None:
    topology.faults.change(udp_blocked=True)
    with (
        udp_socket(topology, "wan", (topology.wan_address, 7001)) as wan,
        udp_socket(topology, "lan", (topology.lan_address, 7001)) as lan,
    ):
        for index in range(20):
            lan.sendto(b"up %d" % index, (topology.wan_address, 7001))
            wan.sendto(b"down %d" % index, (topology.lan_address, 7001))
        assert drain(wan) == []
        assert drain(lan) == []
        server = TcpServer(topology, "wan", (topology.wan_address, 7002))
        try:
            assert tcp_exchange(topology, "lan", (topology.wan_address, 7002)) == b"hello"
        finally:
            server.close()
        topology.faults.change(udp_blocked=False)  # at run time, on the same sockets
        lan.sendto(b"again", (topology.wan_address, 7001))
        assert [data for data, _ in drain(wan)] == [b"again"]


PACKETS = 2000


def test_loss_is_within_a_binomial_bound_and_one_way(topology: Topology) -> None:
    loss = 0.2
    topology.faults.change(up_loss=loss)
    expected_method = LossMethod.NETEM if netem_available() else LossMethod.IPTABLES
    assert topology.faults.loss_method is expected_method
    assert topology.faults.history[-1].config["loss_method"] == expected_method.value
    with (
        udp_socket(topology, "wan", (topology.wan_address, 7001)) as wan,
        udp_socket(topology, "lan", (topology.lan_address, 7001)) as lan,
    ):
        for index in range(PACKETS):
            lan.sendto(index.to_bytes(4, "big"), (topology.wan_address, 7001))
        up = drain(wan)
        for index in range(200):
            wan.sendto(index.to_bytes(4, "big"), (topology.lan_address, 7001))
        down = drain(lan)
    # Five standard deviations of Binomial(2000, 0.8): a false failure once in ~3.5 million runs.
    mean = PACKETS * (1 - loss)
    bound = 5 * math.sqrt(PACKETS * loss * (1 - loss))
    assert abs(len(up) - mean) <= bound, (len(up), mean, bound)
    assert len({data for data, _ in up}) == len(up)  # losses, not duplicates
    assert len(down) == 200  # the other direction is untouched


BURST_PACKETS = 4000


def loss_runs(received: set[int], sent: int) -> list[int]:
    """Lengths of the runs of consecutive datagrams lost, in sending order."""
    runs, length = [], 0
    for index in range(sent):
        if index in received:
            if length:
                runs.append(length)
            length = 0
        else:
            length += 1
    return [*runs, length] if length else runs


def test_burst_loss_comes_in_runs_of_the_models_mean_length(topology: Topology) -> None:
    # Gilbert-Elliott with p = 5 %, r = 30 %: 14.3 % lost on average, in runs of 1/r = 3.3
    # datagrams (uniform loss at that rate would give runs of 1.17).
    topology.faults.change(up_burst="5%,30%")
    expected_method = LossMethod.NETEM if netem_available() else LossMethod.IPTABLES
    assert topology.faults.loss_method is expected_method
    assert topology.faults.history[-1].config["up"]["burst"] == "0.05,0.3,0.0,1.0"
    with (
        udp_socket(topology, "wan", (topology.wan_address, 7001)) as wan,
        udp_socket(topology, "lan", (topology.lan_address, 7001)) as lan,
    ):
        for index in range(BURST_PACKETS):
            lan.sendto(index.to_bytes(4, "big"), (topology.wan_address, 7001))
        up = {int.from_bytes(data, "big") for data, _ in drain(wan)}
        for index in range(200):
            wan.sendto(index.to_bytes(4, "big"), (topology.lan_address, 7001))
        down = drain(lan)
    runs = loss_runs(up, BURST_PACKETS)
    lost = sum(runs) / BURST_PACKETS
    mean_run = sum(runs) / len(runs)
    # About four standard deviations each: the chain's correlation widens the loss rate's
    # spread (about 1.2 % here), and ~170 runs give the mean run length to about 0.2.
    assert 0.093 <= lost <= 0.193, (lost, len(runs))
    assert 2.4 <= mean_run <= 4.3, (mean_run, len(runs))
    assert len(down) == 200  # the other direction is untouched
    topology.faults.change(up_burst=None)  # and off again at run time
    with (
        udp_socket(topology, "wan", (topology.wan_address, 7002)) as wan,
        udp_socket(topology, "lan", (topology.lan_address, 7002)) as lan,
    ):
        for index in range(500):
            lan.sendto(index.to_bytes(4, "big"), (topology.wan_address, 7002))
        assert len(drain(wan)) == 500


def bulk_seconds(topology: Topology, server: TcpServer, size: int) -> float:
    """Seconds the server took to receive ``size`` bytes sent from the LAN (first to last byte)."""
    server.received, server.first, server.last = 0, None, None
    sock = topology.socket("lan")
    with sock:
        sock.settimeout(30)
        sock.connect(server.sock.getsockname())
        sock.sendall(bytes(size))
        deadline = time.monotonic() + 30
        while server.received < size and time.monotonic() < deadline:
            time.sleep(0.02)
    assert server.received == size
    assert server.first is not None
    assert server.last is not None
    return server.last - server.first


def test_tbf_limits_throughput_to_the_rate(topology: Topology) -> None:
    server = TcpServer(topology, "wan", (topology.wan_address, 7003))
    try:
        size = 1_000_000
        unlimited = size * 8 / bulk_seconds(topology, server, size)
        rate = 4_000_000
        topology.faults.change(up_rate="4M")
        limited = size * 8 / bulk_seconds(topology, server, size)
    finally:
        server.close()
    # The first bucketful passes at once, so the measured rate may exceed the limit a little.
    assert 0.6 * rate < limited < 1.15 * rate, limited
    assert unlimited > 5 * limited, (unlimited, limited)


def test_nat_rewrites_the_source_and_lets_in_only_forwarded_ports(topology: Topology) -> None:
    topology.faults.change(nat=True)
    server = TcpServer(topology, "wan", (topology.wan_address, 7004))
    inside = TcpServer(topology, "lan", (topology.lan_address, 7005))
    try:
        assert tcp_exchange(topology, "lan", (topology.wan_address, 7004)) == b"hello"
        assert server.peers[-1][0] == topology.router_wan_address  # the server sees the router
        with pytest.raises(TimeoutError):  # the WAN cannot open a connection into the LAN
            tcp_exchange(topology, "wan", (topology.lan_address, 7005), timeout=1.0)
        topology.faults.change(forward="7005")
        assert tcp_exchange(topology, "wan", (topology.router_wan_address, 7005)) == b"hello"
        assert inside.peers[-1][0] == topology.wan_address
        topology.faults.change(nat=False, forward="")
        assert tcp_exchange(topology, "lan", (topology.wan_address, 7004)) == b"hello"
        assert server.peers[-1][0] == topology.lan_address
    finally:
        server.close()
        inside.close()


def answered_after(topology: Topology, lan: socket.socket, wan: socket.socket, idle: float) -> bool:
    """The LAN sends out, stays silent ``idle`` seconds, then the WAN answers to the mapping."""
    lan.sendto(b"out", (topology.wan_address, 7001))
    got = drain(wan)
    assert [data for data, _ in got] == [b"out"]
    mapping = got[0][1]
    assert mapping[0] == topology.router_wan_address
    time.sleep(idle)
    wan.sendto(b"back", mapping)
    return [data for data, _ in drain(lan)] == [b"back"]


@pytest.mark.slow
def test_udp_mappings_expire_after_the_nat_timeout(topology: Topology) -> None:
    topology.faults.change(nat=True)
    with (
        udp_socket(topology, "wan", (topology.wan_address, 7001)) as wan,
        udp_socket(topology, "lan", (topology.lan_address, 7101)) as lan,
        udp_socket(topology, "lan", (topology.lan_address, 7102)) as other,
    ):
        assert answered_after(topology, lan, wan, 3.5)  # the kernel's 30 s keep the mapping
        topology.faults.change(nat_timeout="2s")
        assert answered_after(topology, other, wan, 0.5)  # within the timeout
        assert not answered_after(topology, other, wan, 3.5)  # expired: the answer is dropped
    assert topology.exec("router", ["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout"]) == (
        "2\n"
    )


def test_delay_needs_netem_and_says_so(topology: Topology) -> None:
    if netem_available():
        topology.faults.change(delay="20ms")
        assert topology.faults.config.up.delay == 0.02
        return
    with pytest.raises(NetemUnavailable, match=r"netem qdisc \(sch_netem\)"):
        topology.faults.change(delay="20ms", jitter="5ms")
    assert topology.faults.config.up.delay == 0  # nothing changed


def test_delay_and_jitter_on_the_path(topology: Topology) -> None:
    skip_without_netem()
    server = TcpServer(topology, "wan", (topology.wan_address, 7006))
    try:
        started = time.monotonic()
        tcp_exchange(topology, "lan", (topology.wan_address, 7006))
        baseline = time.monotonic() - started
        topology.faults.change(delay="100ms")
        started = time.monotonic()
        tcp_exchange(topology, "lan", (topology.wan_address, 7006))
        delayed = time.monotonic() - started
    finally:
        server.close()
    # Handshake and echo: two round trips, each crossing the delayed router twice.
    assert delayed - baseline >= 0.35
