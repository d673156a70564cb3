"""Namespace topologies: the path works, stays inside 198.18.0.0/15, and leaves nothing behind,
even when the process that built it is killed outright."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from camsim.fault.cleanup import cleanup, leftover_namespaces
from camsim.fault.netns import ROLES, Topology, list_namespaces, parse_owner, run
from camsim.fault.netns_plugin import TopologyFactory, netns_topology, skip_without_netns
from tests.integration.fault.netns_harness import (
    TcpServer,
    drain,
    ping,
    tcp_exchange,
    udp_socket,
)

__all__ = ["netns_topology"]  # the fixture, imported for pytest

BENCHMARK = ipaddress.IPv4Network("198.18.0.0/15")


def machine_state(*owners: int) -> tuple[list[str], list[str]]:
    """The namespaces owned by ``owners`` (this process by default) and the machine's own
    interfaces. Other programs may make namespaces meanwhile; only ours are compared."""
    pids = set(owners) or {os.getpid()}
    namespaces = [name for name in list_namespaces() if (parse_owner(name) or (0,))[0] in pids]
    links = [item["ifname"] for item in json.loads(run(["ip", "-j", "link", "show"]))]
    return sorted(namespaces), sorted(links)


def process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def test_up_and_down_leaves_no_namespace_and_no_link() -> None:
    skip_without_netns()
    before = machine_state()
    with Topology() as topology:
        present = set(list_namespaces())
        assert set(topology.names.values()) <= present
        assert all(name.startswith("camsim-") for name in topology.names.values())
        assert machine_state()[1] == before[1]  # the veth pairs never show in the machine's own
    assert machine_state() == before


def test_async_topology_is_torn_down_on_an_error() -> None:
    skip_without_netns()
    before = machine_state()

    async def main() -> None:
        async with Topology() as topology:
            assert ping(topology, "lan", topology.wan_address)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(main())
    assert machine_state() == before


CHILD = """
import sys, time
from camsim.fault.netns import Topology
topology = Topology().create()
topology.popen("lan", ["sleep", "300"])
print(" ".join(topology.names.values()), flush=True)
time.sleep(300)
"""


def test_killed_owner_leaves_namespaces_that_cleanup_removes() -> None:
    skip_without_netns()
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    before = machine_state(child.pid)
    try:
        assert child.stdout is not None
        names = child.stdout.readline().split()
        assert len(names) == 3, "the child did not build its topology"
        inside = run(["ip", "netns", "pids", names[0]]).split()
        assert inside, "the process started in the lan namespace is not running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert set(names) <= set(leftover_namespaces())  # SIGKILL leaves them, owner gone
    removed = cleanup()
    assert set(names) <= set(removed)
    assert machine_state(child.pid) == before
    time.sleep(0.1)
    for pid in inside:  # what ran inside was killed too (a zombie until its new parent reaps it)
        assert process_state(int(pid)) in (None, "Z", "X"), pid


def test_cleanup_keeps_namespaces_of_a_live_owner(netns_topology: TopologyFactory) -> None:
    topology = netns_topology()
    assert not set(topology.names.values()) & set(leftover_namespaces())
    assert set(topology.names.values()) <= set(leftover_namespaces(everything=True))


def test_no_route_leaves_the_benchmarking_range(netns_topology: TopologyFactory) -> None:
    topology = netns_topology()
    for role in ROLES:
        routes = json.loads(topology.exec(role, ["ip", "-j", "-4", "route", "show"]))
        assert routes, role
        for route in routes:
            assert route["dst"] != "default", (role, route)
            assert ipaddress.IPv4Network(route["dst"]).subnet_of(BENCHMARK), (role, route)
        assert json.loads(topology.exec(role, ["ip", "-j", "-6", "route", "show"])) == [], role
        addresses = json.loads(topology.exec(role, ["ip", "-j", "addr", "show"]))
        for link in addresses:
            for info in link["addr_info"]:
                ip = ipaddress.ip_address(info["local"])
                assert ip in BENCHMARK or (ip.version == 4 and ip.is_loopback), (role, info)


def test_ping_tcp_and_udp_cross_the_router(netns_topology: TopologyFactory) -> None:
    topology = netns_topology()
    assert ping(topology, "lan", topology.wan_address)
    assert ping(topology, "wan", topology.lan_address)
    server = TcpServer(topology, "wan", (topology.wan_address, 7000))
    try:
        assert tcp_exchange(topology, "lan", (topology.wan_address, 7000)) == b"hello"
        assert server.peers[0][0] == topology.lan_address  # routed, not translated
    finally:
        server.close()
    with udp_socket(topology, "wan", (topology.wan_address, 7001)) as receiver:
        with topology.socket("lan", socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for index in range(10):
                sender.sendto(b"%d" % index, (topology.wan_address, 7001))
        got = drain(receiver)
    assert [data for data, _ in got] == [b"%d" % index for index in range(10)]
    assert {source[0] for _, source in got} == {topology.lan_address}


def run_child(script: str, stop: signal.Signals | None) -> tuple[list[str], int]:
    """Run ``script`` (which builds a topology and prints its names); send ``stop`` once it has.
    Returns the names and the exit status."""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        names = child.stdout.readline().split()
        assert len(names) == 3, "the child did not build its topology"
        assert set(names) <= set(list_namespaces())
        if stop is not None:
            child.send_signal(stop)
        return names, child.wait(20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_sigterm_tears_the_topology_down() -> None:
    skip_without_netns()
    names, status = run_child(CHILD, signal.SIGTERM)
    assert status == -signal.SIGTERM  # it still dies of the signal, after tearing down
    assert not set(names) & set(list_namespaces())


def test_exit_without_close_tears_the_topology_down() -> None:
    skip_without_netns()
    script = CHILD.replace("time.sleep(300)", "sys.exit(3)")
    names, status = run_child(script, None)
    assert status == 3
    assert not set(names) & set(list_namespaces())


def test_two_topologies_side_by_side_keep_their_faults_apart(
    netns_topology: TopologyFactory,
) -> None:
    first, second = netns_topology(), netns_topology()
    assert not set(first.names.values()) & set(second.names.values())
    first.faults.change(udp_blocked=True)
    for topology, arrives in ((first, False), (second, True)):
        with udp_socket(topology, "wan", (topology.wan_address, 7001)) as receiver:
            with topology.socket("lan", socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"probe", (topology.wan_address, 7001))
            assert bool(drain(receiver)) is arrives
        assert ping(topology, "lan", topology.wan_address)  # same addresses, separate paths
