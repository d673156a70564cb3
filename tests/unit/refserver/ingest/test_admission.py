"""Connection slots: the server-wide cap, the per-address cap, bans, eviction of connections
that never publish, and giving slots back."""

from __future__ import annotations

import itertools

import pytest

from refserver.config import Limits
from refserver.ingest.admission import Admission, address_group


@pytest.mark.parametrize(
    ("host", "group"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("/run/refserver.sock", "/run/refserver.sock"),
    ],
)
def test_address_groups(host: str, group: str) -> None:
    assert address_group(host) == group


class Peers:
    """Connections admitted one after another, remembering which were evicted and why."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.keys = itertools.count(1)
        self.evicted: dict[int, str] = {}
        self.address_of: dict[int, str] = {}

    def connect(self, address: str, now: float = 0.0) -> int | str:
        key = next(self.keys)
        refusal = self.admission.admit(address, now, key, lambda why: self._evict(key, why))
        if refusal is not None:
            return refusal
        self.address_of[key] = address
        return key

    def _evict(self, key: int, why: str) -> None:
        self.evicted[key] = why


def test_per_address_and_total_caps() -> None:
    admission = Admission(Limits(max_connections=5, max_connections_per_ip=2))
    peers = Peers(admission)
    first = peers.connect("10.0.0.1")
    assert isinstance(first, int)
    assert isinstance(peers.connect("10.0.0.1"), int)
    assert peers.connect("10.0.0.1") == "already 2 connections from 10.0.0.1"
    admission.proven("10.0.0.1", first)
    for address in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        assert isinstance(peers.connect(address), int)
    # Full, and no address holds two unproven connections more than a newcomer: no eviction.
    assert peers.connect("10.0.0.5") == "already 5 connections"
    admission.release("10.0.0.1", first)
    assert isinstance(peers.connect("10.0.0.5"), int)
    assert admission.connections == 5
    assert peers.evicted == {}


def test_a_full_server_evicts_the_oldest_unproven_connection_of_the_busiest_address() -> None:
    admission = Admission(Limits(max_connections=5, max_connections_per_ip=3))
    peers = Peers(admission)
    lone = peers.connect("10.0.0.1", 0.0)
    busy = [peers.connect("10.0.0.9", t) for t in (1.0, 2.0, 3.0)]
    assert all(isinstance(key, int) for key in busy)
    published = peers.connect("10.0.0.2", 0.5)
    assert isinstance(published, int)
    admission.proven("10.0.0.2", published)
    newcomer = peers.connect("10.0.0.7", 10.0)
    assert isinstance(newcomer, int)
    # Not the oldest connection overall (lone), nor the published one: the busiest address's.
    assert peers.evicted == {busy[0]: "evicted after 9.0 s without publishing, to make room"}
    assert admission.connections == 5
    assert admission.from_address("10.0.0.9") == 2
    assert lone not in peers.evicted


def test_eviction_only_evens_out_the_shares() -> None:
    admission = Admission(Limits(max_connections=6, max_connections_per_ip=4))
    peers = Peers(admission)
    for address, count in (("10.0.0.1", 4), ("10.0.0.2", 2)):
        for _ in range(count):
            assert isinstance(peers.connect(address), int)
    # 10.0.0.2 holds 2: taking one of 10.0.0.1's 4 leaves them 3 and 3.
    assert isinstance(peers.connect("10.0.0.2", 1.0), int)
    assert len(peers.evicted) == 1
    # Now 3 against 3: no newcomer from either gains by evicting.
    assert peers.connect("10.0.0.2", 2.0) == "already 6 connections"
    assert peers.connect("10.0.0.1", 2.0) == "already 6 connections"
    # A newcomer with none still gets in.
    assert isinstance(peers.connect("10.0.0.3", 3.0), int)
    assert len(peers.evicted) == 2


def test_single_connections_are_never_evicted() -> None:
    admission = Admission(Limits(max_connections=3))
    peers = Peers(admission)
    for index in range(3):
        assert isinstance(peers.connect(f"10.0.0.{index}", float(index)), int)
    assert peers.connect("10.0.0.9", 100.0) == "already 3 connections"
    assert peers.evicted == {}


def test_published_connections_are_never_evicted() -> None:
    admission = Admission(Limits(max_connections=2))
    peers = Peers(admission)
    for address in ("10.0.0.1", "10.0.0.2"):
        key = peers.connect(address)
        assert isinstance(key, int)
        admission.proven(address, key)
    assert peers.connect("10.0.0.3", 100.0) == "already 2 connections"
    assert peers.evicted == {}


def test_the_tables_keep_only_addresses_with_connections() -> None:
    admission = Admission(Limits())
    keys = {f"10.0.{index}.1": peers_key for index, peers_key in enumerate(range(1, 101))}
    for address, key in keys.items():
        assert admission.admit(address, 0.0, key, lambda why: None) is None
    for address, key in keys.items():
        admission.release(address, key)
    assert admission.connections == 0
    assert admission._per_address == {}
    assert admission._unproven == {}
    with pytest.raises(RuntimeError):
        admission.release("10.0.0.1", 1)


def test_a_banned_address_is_refused_until_the_ban_ends() -> None:
    admission = Admission(Limits(key_failure_limit=2, key_failure_window=60))
    peers = Peers(admission)
    admission.failures.record("10.0.0.9", 0.0)
    assert isinstance(peers.connect("10.0.0.9", 1.0), int)
    admission.failures.record("10.0.0.9", 2.0)
    refusal = peers.connect("10.0.0.9", 3.0)
    assert refusal == "address banned after repeated refused stream keys"
    assert isinstance(peers.connect("10.0.0.8", 3.0), int)
    assert isinstance(peers.connect("10.0.0.9", 62.0), int)
