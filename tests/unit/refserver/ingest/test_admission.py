"""Connection slots: the server-wide cap, the per-address cap, bans, and giving slots back."""

from __future__ import annotations

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


def test_per_address_then_total_caps() -> None:
    admission = Admission(Limits(max_connections=5, max_connections_per_ip=2))
    assert admission.admit("10.0.0.1", 0.0) is None
    assert admission.admit("10.0.0.1", 0.0) is None
    assert admission.admit("10.0.0.1", 0.0) == "already 2 connections from 10.0.0.1"
    for _ in range(3):
        assert admission.admit("10.0.0.2" if _ < 2 else "10.0.0.3", 0.0) is None
    assert admission.admit("10.0.0.4", 0.0) == "already 5 connections"
    admission.release("10.0.0.1")
    assert admission.admit("10.0.0.4", 0.0) is None
    assert admission.connections == 5


def test_the_table_keeps_only_addresses_with_connections() -> None:
    admission = Admission(Limits())
    for index in range(100):
        assert admission.admit(f"10.0.{index}.1", 0.0) is None
    for index in range(100):
        admission.release(f"10.0.{index}.1")
    assert admission.connections == 0
    assert admission._per_address == {}
    with pytest.raises(RuntimeError):
        admission.release("10.0.0.1")


def test_a_banned_address_is_refused_until_the_ban_ends() -> None:
    admission = Admission(Limits(key_failure_limit=2, key_failure_window=60))
    admission.failures.record("10.0.0.9", 0.0)
    assert admission.admit("10.0.0.9", 1.0) is None
    admission.failures.record("10.0.0.9", 2.0)
    refusal = admission.admit("10.0.0.9", 3.0)
    assert refusal == "address banned after repeated refused stream keys"
    assert admission.admit("10.0.0.8", 3.0) is None
    assert admission.admit("10.0.0.9", 62.0) is None
