from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from wire.rtmp.errors import RtmpError
from wire.rtmp.handshake import (
    CLIENT_VERSION,
    DIGEST_SIZE,
    FMS_KEY_TEXT_SIZE,
    FP_KEY_TEXT_SIZE,
    GENUINE_FMS_KEY,
    GENUINE_FP_KEY,
    HANDSHAKE_SIZE,
    SCHEMA0_DIGEST_BASE,
    SCHEMA1_DIGEST_BASE,
    SERVER_VERSION,
    ClientHandshake,
    ServerHandshake,
    digest_position,
    find_digest,
    make_digested_packet,
    verify_signed_response,
)

Random = Callable[[int], bytes]


def run(client: ClientHandshake, server: ServerHandshake) -> tuple[bytes, bytes, bytes]:
    """Drive both sides; return C0C1, S0S1S2 and C2."""
    c0c1 = client.initiate()
    s0s1s2 = server.receive(bytearray(c0c1))
    c2 = client.receive(bytearray(s0s1s2))
    server.receive(bytearray(c2))
    return c0c1, s0s1s2, c2


def test_keys_are_the_flash_keys_plus_the_fixed_32_bytes() -> None:
    assert len(GENUINE_FP_KEY) == 62
    assert len(GENUINE_FMS_KEY) == 68
    assert GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE] == b"Genuine Adobe Flash Player 001"
    assert GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE] == b"Genuine Adobe Flash Media Server 001"
    assert GENUINE_FP_KEY[30:] == GENUINE_FMS_KEY[36:]
    assert GENUINE_FMS_KEY[36:40] == b"\xf0\xee\xc2\x4a"
    assert GENUINE_FMS_KEY[-4:] == b"\xcf\xeb\x31\xae"


def test_digest_position_sums_four_bytes_modulo_728() -> None:
    packet = bytearray(HANDSHAKE_SIZE)
    packet[8:12] = b"\x01\x02\x03\x04"
    assert digest_position(packet, SCHEMA1_DIGEST_BASE) == 8 + 4 + 10
    packet[772:776] = b"\xff\xff\xff\xff"
    assert digest_position(packet, SCHEMA0_DIGEST_BASE) == 772 + 4 + (1020 % 728)


def test_simple_handshake_layout(seeded_random: Random) -> None:
    client = ClientHandshake(complex_handshake=False, random=seeded_random, time=7)
    server = ServerHandshake(random=seeded_random)
    c0c1, s0s1s2, c2 = run(client, server)
    assert len(c0c1) == 1 + HANDSHAKE_SIZE
    assert c0c1[:9] == b"\x03\x00\x00\x00\x07\x00\x00\x00\x00"
    assert len(s0s1s2) == 1 + 2 * HANDSHAKE_SIZE
    assert s0s1s2[0] == 3
    assert s0s1s2[5:9] == bytes(4)
    assert s0s1s2[1 + HANDSHAKE_SIZE :] == c0c1[1:]
    assert c2 == s0s1s2[1 : 1 + HANDSHAKE_SIZE]
    assert client.complete
    assert server.complete
    assert not client.complex
    assert not server.complex
    assert client.server_verified
    assert server.client_verified


def test_complex_handshake(seeded_random: Random) -> None:
    client = ClientHandshake(random=seeded_random)
    server = ServerHandshake(random=seeded_random)
    c0c1, s0s1s2, c2 = run(client, server)
    c1, s1 = c0c1[1:], s0s1s2[1 : 1 + HANDSHAKE_SIZE]
    s2 = s0s1s2[1 + HANDSHAKE_SIZE :]
    assert c1[4:8] == CLIENT_VERSION
    assert s1[4:8] == SERVER_VERSION
    c1_base, c1_position = find_digest(c1, GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE]) or (0, 0)
    assert c1_base == SCHEMA1_DIGEST_BASE
    s1_found = find_digest(s1, GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE])
    assert s1_found is not None
    assert s1_found[0] == SCHEMA1_DIGEST_BASE
    c1_digest = c1[c1_position : c1_position + DIGEST_SIZE]
    s1_digest = s1[s1_found[1] : s1_found[1] + DIGEST_SIZE]
    assert verify_signed_response(s2, c1_digest, GENUINE_FMS_KEY)
    assert verify_signed_response(c2, s1_digest, GENUINE_FP_KEY)
    assert not verify_signed_response(c2, s1_digest, GENUINE_FMS_KEY)
    assert client.complex
    assert server.complex
    assert client.server_verified
    assert server.client_verified


def test_server_answers_schema0_with_schema0(seeded_random: Random) -> None:
    c1 = make_digested_packet(
        0,
        CLIENT_VERSION,
        seeded_random(HANDSHAKE_SIZE - 8),
        GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE],
        SCHEMA0_DIGEST_BASE,
    )
    server = ServerHandshake(random=seeded_random)
    reply = server.receive(bytearray(b"\x03" + c1))
    s1 = reply[1 : 1 + HANDSHAKE_SIZE]
    found = find_digest(s1, GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE])
    assert found is not None
    assert found[0] == SCHEMA0_DIGEST_BASE
    assert server.complex


def test_a_version_without_a_valid_digest_falls_back_to_simple(seeded_random: Random) -> None:
    c1 = b"\x00\x00\x00\x00" + CLIENT_VERSION + bytes(HANDSHAKE_SIZE - 8)
    server = ServerHandshake(random=seeded_random)
    reply = server.receive(bytearray(b"\x03" + c1))
    assert not server.complex
    assert reply[5:9] == bytes(4)
    assert reply[1 + HANDSHAKE_SIZE :] == c1


def test_complex_client_against_a_simple_only_server(seeded_random: Random) -> None:
    client = ClientHandshake(random=seeded_random)
    server = ServerHandshake(allow_complex=False, random=seeded_random)
    _, s0s1s2, c2 = run(client, server)
    assert not client.complex
    assert not server.complex
    assert c2 == s0s1s2[1 : 1 + HANDSHAKE_SIZE]
    assert client.server_verified
    assert server.client_verified


def test_client_notices_an_s2_that_does_not_sign_c1(seeded_random: Random) -> None:
    client = ClientHandshake(random=seeded_random)
    server = ServerHandshake(random=seeded_random)
    c0c1 = client.initiate()
    s0s1s2 = bytearray(server.receive(bytearray(c0c1)))
    s0s1s2[-1] ^= 0xFF
    client.receive(s0s1s2)
    assert client.complete
    assert client.complex
    assert not client.server_verified


@pytest.mark.parametrize("version", [0, 6, 0xFF])
def test_server_refuses_other_versions(seeded_random: Random, version: int) -> None:
    server = ServerHandshake(random=seeded_random)
    with pytest.raises(RtmpError) as info:
        server.receive(bytearray(bytes((version,)) + bytes(HANDSHAKE_SIZE)))
    assert str(info.value) == f"handshake: C0 carries RTMP version {version}, expected 3"


def test_client_refuses_other_versions(seeded_random: Random) -> None:
    client = ClientHandshake(random=seeded_random)
    client.initiate()
    with pytest.raises(RtmpError, match="handshake: S0 carries RTMP version 6, expected 3"):
        client.receive(bytearray(b"\x06" + bytes(2 * HANDSHAKE_SIZE)))


def test_byte_at_a_time_with_trailing_data(seeded_random: Random) -> None:
    client = ClientHandshake(random=seeded_random)
    server = ServerHandshake(random=seeded_random)
    buffer = bytearray()
    replies = []
    for byte in client.initiate():
        buffer.append(byte)
        replies.append(server.receive(buffer))
    assert all(reply == b"" for reply in replies[:-1])
    assert len(replies[-1]) == 1 + 2 * HANDSHAKE_SIZE
    c2 = client.receive(bytearray(replies[-1]))
    trailing = b"\x03chunk data"
    for byte in c2 + trailing:
        buffer.append(byte)
        assert server.receive(buffer) == b""
    assert server.complete
    assert bytes(buffer) == trailing


def test_random_source_makes_the_handshake_deterministic() -> None:
    def c0c1(seed: int) -> bytes:
        return ClientHandshake(random=random.Random(seed).randbytes).initiate()

    assert c0c1(1) == c0c1(1)
    assert c0c1(1) != c0c1(2)
