"""HTTP connection accounting without sockets: caps per server and per address, room made by
closing connections that never asked for anything, IPv6 counted per /64, the fd budget."""

from __future__ import annotations

import resource

import pytest

from refserver import http_limits
from refserver.http_limits import Admission, ConnectionLimits, address_key, refusal


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        (("127.0.0.1", 5000), "127.0.0.1"),
        (("::ffff:192.0.2.7", 5000, 0, 0), "192.0.2.7"),
        (("2001:db8:1:2:aaaa::1", 5000, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:ffff:ffff:ffff:ffff", 1, 0, 0), "2001:db8:1:2::/64"),
        (("fe80::1%eth0", 1, 0, 2), "fe80::/64"),
        ("/run/refserver.sock", "/run/refserver.sock"),
    ],
)
def test_address_keys(peer: object, key: str):
    assert address_key(peer) == key


def test_per_address_and_server_caps():
    limits = ConnectionLimits(max_connections=3, max_per_address=2)
    a1, a2, a3, b1, c1 = (object() for _ in range(5))
    assert limits.admit(a1, "a") == (Admission.ADMITTED, None)
    assert limits.admit(a2, "a") == (Admission.ADMITTED, None)
    assert limits.admit(a3, "a") == (Admission.ADDRESS_FULL, None)
    assert limits.admit(b1, "b") == (Admission.ADMITTED, None)
    for connection in (a1, a2, b1):
        limits.served(connection)
    assert limits.admit(c1, "c") == (Admission.SERVER_FULL, None)
    limits.release(a1)
    limits.release(a1)  # twice is fine
    assert len(limits) == 2
    assert limits.admit(a3, "a") == (Admission.ADMITTED, None)


def test_a_full_server_evicts_the_oldest_connection_that_never_asked():
    limits = ConnectionLimits(max_connections=3, max_per_address=3)
    first, second, third, newcomer = (object() for _ in range(4))
    for connection in (first, second, third):
        limits.admit(connection, "x")
    limits.served(first)  # a client: kept
    assert limits.admit(newcomer, "y") == (Admission.ADMITTED, second)
    assert len(limits) == 3
    limits.release(second)  # its connection_lost comes later: already accounted for
    assert len(limits) == 3


def test_refusal_is_a_complete_http_answer():
    answer = refusal(Admission.SERVER_FULL)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 503 Service Unavailable"
    assert b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert body == b"server busy: too many connections\n"


def test_descriptor_budget_raises_the_soft_limit_or_lowers_the_cap(
    monkeypatch: pytest.MonkeyPatch,
):
    limits = {"soft": 1024, "hard": 4096}

    def getrlimit(which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return limits["soft"], limits["hard"]

    def setrlimit(which: int, values: tuple[int, int]) -> None:
        limits["soft"], limits["hard"] = values

    monkeypatch.setattr(resource, "getrlimit", getrlimit)
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    assert http_limits.descriptor_budget(1000, 320) == 1000
    assert limits["soft"] == 1320  # raised as far as needed, no further
    limits.update(soft=512, hard=512)
    assert http_limits.descriptor_budget(1000, 320) == 192
    limits.update(soft=256, hard=256)
    assert http_limits.descriptor_budget(1000, 320) == http_limits.MIN_HTTP_CONNECTIONS
