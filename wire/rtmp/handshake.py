"""The RTMP handshake, simple and complex, for both roles.

Simple handshake (RTMP specification 1.0, section 5.2): C0/S0 carry the version byte 3; C1/S1
are time(4) zero(4) random(1528); C2/S2 echo the peer's C1/S1.

Complex handshake (Flash Player 9 and later, undocumented by Adobe; as implemented by FFmpeg,
nginx-rtmp and SRS): C1/S1 carry a non-zero version in place of the zero field and hide an
HMAC-SHA256 digest in a 764-byte block. The digest block is either first (schema 1, base 8) or
second (schema 0, base 772, after the key block); its position is ``base + 4 + (sum of the 4 bytes
at base) % 728``. The digest covers the packet without the digest bytes, keyed with the first 30
bytes of the Flash Player key (C1) or the first 36 of the Flash Media Server key (S1). C2/S2 are
1504 random bytes followed by an HMAC of them, keyed with HMAC(full key, peer's digest).

Randomness comes from a caller-supplied source so tests are deterministic.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import struct
from collections.abc import Callable

from wire.rtmp.errors import RtmpError

RTMP_VERSION = 3
HANDSHAKE_SIZE = 1536
RANDOM_SIZE = HANDSHAKE_SIZE - 8
DIGEST_SIZE = 32
DIGEST_OFFSET_MODULO = 728
SCHEMA0_DIGEST_BASE = 772
SCHEMA1_DIGEST_BASE = 8

_KEY_SUFFIX = bytes.fromhex("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae")
GENUINE_FP_KEY = b"Genuine Adobe Flash Player 001" + _KEY_SUFFIX
GENUINE_FMS_KEY = b"Genuine Adobe Flash Media Server 001" + _KEY_SUFFIX
FP_KEY_TEXT_SIZE = 30
FMS_KEY_TEXT_SIZE = 36

CLIENT_VERSION = bytes((9, 0, 124, 2))
"""The Flash Player version FFmpeg claims in a complex C1."""
SERVER_VERSION = bytes((0x0D, 0x0E, 0x0A, 0x0D))
"""The server version nginx-rtmp claims in a complex S1."""

RandomSource = Callable[[int], bytes]


def digest_position(packet: bytes | bytearray, base: int) -> int:
    """Where the digest sits in a C1/S1 whose digest block starts at ``base``."""
    return base + 4 + sum(packet[base : base + 4]) % DIGEST_OFFSET_MODULO


def packet_digest(packet: bytes, position: int, key: bytes) -> bytes:
    """HMAC-SHA256 over ``packet`` without the 32 digest bytes at ``position``."""
    message = packet[:position] + packet[position + DIGEST_SIZE :]
    return hmac.new(key, message, hashlib.sha256).digest()


def find_digest(packet: bytes, key: bytes) -> tuple[int, int] | None:
    """Locate a valid digest in a C1/S1: ``(base, position)``, or ``None`` when there is none."""
    for base in (SCHEMA1_DIGEST_BASE, SCHEMA0_DIGEST_BASE):
        position = digest_position(packet, base)
        expected = packet_digest(packet, position, key)
        if hmac.compare_digest(packet[position : position + DIGEST_SIZE], expected):
            return base, position
    return None


def make_digested_packet(
    time: int, version: bytes, random_bytes: bytes, key: bytes, base: int
) -> bytes:
    """A complex C1/S1: time, version and random bytes with the digest written in place."""
    packet = bytearray(struct.pack(">I", time & 0xFFFFFFFF) + version + random_bytes)
    position = digest_position(packet, base)
    packet[position : position + DIGEST_SIZE] = packet_digest(bytes(packet), position, key)
    return bytes(packet)


def make_signed_response(peer_digest: bytes, full_key: bytes, random_bytes: bytes) -> bytes:
    """A complex C2/S2: 1504 random bytes signed with a key derived from the peer's digest."""
    derived = hmac.new(full_key, peer_digest, hashlib.sha256).digest()
    body = random_bytes[: HANDSHAKE_SIZE - DIGEST_SIZE]
    return body + hmac.new(derived, body, hashlib.sha256).digest()


def verify_signed_response(packet: bytes, own_digest: bytes, full_key: bytes) -> bool:
    """Check that a C2/S2 signs our own C1/S1 digest."""
    expected = make_signed_response(own_digest, full_key, packet)
    return hmac.compare_digest(packet, expected)


class _Stage(enum.Enum):
    AWAIT_FIRST = enum.auto()
    AWAIT_SECOND = enum.auto()
    DONE = enum.auto()


def _check_version(version: int, what: str) -> None:
    if version != RTMP_VERSION:
        raise RtmpError(f"handshake: {what} carries RTMP version {version}, expected 3")


class ClientHandshake:
    """The client side: sends C0C1, answers S0S1 with C2, completes on S2."""

    def __init__(
        self, *, complex_handshake: bool = True, random: RandomSource = os.urandom, time: int = 0
    ) -> None:
        self.complex_requested = complex_handshake
        self.complex = False
        """True once the server answered with a valid complex S1."""
        self.server_verified = False
        """True when S2 echoes C1 (simple) or signs the C1 digest (complex)."""
        self._random = random
        self._time = time
        self._stage = _Stage.AWAIT_FIRST
        self._c1 = b""
        self._c1_digest = b""

    @property
    def complete(self) -> bool:
        return self._stage is _Stage.DONE

    def initiate(self) -> bytes:
        """C0 and C1."""
        random_bytes = self._random(RANDOM_SIZE)
        if self.complex_requested:
            self._c1 = make_digested_packet(
                self._time,
                CLIENT_VERSION,
                random_bytes,
                GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE],
                SCHEMA1_DIGEST_BASE,
            )
            position = digest_position(self._c1, SCHEMA1_DIGEST_BASE)
            self._c1_digest = self._c1[position : position + DIGEST_SIZE]
        else:
            self._c1 = struct.pack(">II", self._time & 0xFFFFFFFF, 0) + random_bytes
        return bytes((RTMP_VERSION,)) + self._c1

    def receive(self, buffer: bytearray) -> bytes:
        """Consume what the handshake needs from ``buffer``; return the bytes to send."""
        if self._stage is _Stage.AWAIT_FIRST and len(buffer) >= 1 + HANDSHAKE_SIZE:
            _check_version(buffer[0], "S0")
            s1 = bytes(buffer[1 : 1 + HANDSHAKE_SIZE])
            del buffer[: 1 + HANDSHAKE_SIZE]
            self._stage = _Stage.AWAIT_SECOND
            reply = self._answer_s1(s1)
            return reply + self.receive(buffer)
        if self._stage is _Stage.AWAIT_SECOND and len(buffer) >= HANDSHAKE_SIZE:
            s2 = bytes(buffer[:HANDSHAKE_SIZE])
            del buffer[:HANDSHAKE_SIZE]
            if self.complex:
                self.server_verified = verify_signed_response(s2, self._c1_digest, GENUINE_FMS_KEY)
            else:
                self.server_verified = s2[8:] == self._c1[8:]
            self._stage = _Stage.DONE
        return b""

    def _answer_s1(self, s1: bytes) -> bytes:
        found = None
        if self.complex_requested and s1[4:8] != bytes(4):
            found = find_digest(s1, GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE])
        if found is None:
            return s1
        self.complex = True
        position = found[1]
        return make_signed_response(
            s1[position : position + DIGEST_SIZE],
            GENUINE_FP_KEY,
            self._random(HANDSHAKE_SIZE - DIGEST_SIZE),
        )


class ServerHandshake:
    """The server side: answers C0C1 with S0S1S2 (complex when C1 is), completes on C2.

    A C1 with a zero version field or no valid digest gets the simple handshake, as nginx-rtmp and
    SRS do.
    """

    def __init__(
        self, *, allow_complex: bool = True, random: RandomSource = os.urandom, time: int = 0
    ) -> None:
        self.allow_complex = allow_complex
        self.complex = False
        """True when the client sent a valid complex C1 and got a complex S1/S2."""
        self.client_verified = False
        """True when C2 echoes S1 (simple) or signs the S1 digest (complex)."""
        self._random = random
        self._time = time
        self._stage = _Stage.AWAIT_FIRST
        self._s1 = b""
        self._s1_digest = b""

    @property
    def complete(self) -> bool:
        return self._stage is _Stage.DONE

    def receive(self, buffer: bytearray) -> bytes:
        """Consume what the handshake needs from ``buffer``; return the bytes to send."""
        if self._stage is _Stage.AWAIT_FIRST and len(buffer) >= 1 + HANDSHAKE_SIZE:
            _check_version(buffer[0], "C0")
            c1 = bytes(buffer[1 : 1 + HANDSHAKE_SIZE])
            del buffer[: 1 + HANDSHAKE_SIZE]
            self._stage = _Stage.AWAIT_SECOND
            reply = bytes((RTMP_VERSION,)) + self._answer_c1(c1)
            return reply + self.receive(buffer)
        if self._stage is _Stage.AWAIT_SECOND and len(buffer) >= HANDSHAKE_SIZE:
            c2 = bytes(buffer[:HANDSHAKE_SIZE])
            del buffer[:HANDSHAKE_SIZE]
            if self.complex:
                self.client_verified = verify_signed_response(c2, self._s1_digest, GENUINE_FP_KEY)
            else:
                self.client_verified = c2[8:] == self._s1[8:]
            self._stage = _Stage.DONE
        return b""

    def _answer_c1(self, c1: bytes) -> bytes:
        """S1 followed by S2."""
        found = None
        if self.allow_complex and c1[4:8] != bytes(4):
            found = find_digest(c1, GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE])
        if found is None:
            self._s1 = struct.pack(">II", self._time & 0xFFFFFFFF, 0) + self._random(RANDOM_SIZE)
            return self._s1 + c1
        self.complex = True
        base, position = found
        self._s1 = make_digested_packet(
            self._time,
            SERVER_VERSION,
            self._random(RANDOM_SIZE),
            GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE],
            base,
        )
        s1_position = digest_position(self._s1, base)
        self._s1_digest = self._s1[s1_position : s1_position + DIGEST_SIZE]
        s2 = make_signed_response(
            c1[position : position + DIGEST_SIZE],
            GENUINE_FMS_KEY,
            self._random(HANDSHAKE_SIZE - DIGEST_SIZE),
        )
        return self._s1 + s2
