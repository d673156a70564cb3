"""Small probes run across a namespace topology: ICMP echo, TCP and UDP exchanges, all from
sockets this process opens inside the namespaces."""

from __future__ import annotations

import socket
import struct
import threading
import time

from camsim.fault.netns import Role, Topology

SO_RCVBUFFORCE = 33  # Linux <asm-generic/socket.h>; Python does not export it


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def ping(topology: Topology, role: Role, address: str, timeout: float = 2.0) -> bool:
    """One ICMP echo from ``role`` to ``address``: whether the reply came back in time."""
    sock = topology.socket(role, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with sock:
        ident, payload = 0x4321, b"camsim-ping"
        header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
        sock.sendto(packet, (address, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, (source, _) = sock.recvfrom(2048)
            except TimeoutError:
                return False
            icmp = data[(data[0] & 0x0F) * 4 :]  # past the IP header
            kind, _, _, got_ident, _ = struct.unpack("!BBHHH", icmp[:8])
            if kind == 0 and got_ident == ident and source == address:
                return True
        return False


class TcpServer:
    """Accepts in ``role``'s namespace, records each peer's address and echoes what it reads."""

    def __init__(self, topology: Topology, role: Role, address: tuple[str, int]) -> None:
        self.sock = topology.socket(role)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.peers: list[tuple[str, int]] = []
        self.received = 0
        self.first: float | None = None
        self.last: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            self.peers.append(peer)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                now = time.monotonic()
                self.first = self.first if self.first is not None else now
                self.last = now
                self.received += len(data)
                if len(data) < 1024:  # probes are echoed; bulk transfers are only counted
                    conn.sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def tcp_exchange(
    topology: Topology, role: Role, address: tuple[str, int], timeout: float = 3.0
) -> bytes:
    """Connect from ``role``, send a probe and return the echo (raises on refusal or timeout)."""
    sock = topology.socket(role)
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(b"hello")
        return sock.recv(100)


def udp_socket(topology: Topology, role: Role, address: tuple[str, int]) -> socket.socket:
    sock = topology.socket(role, socket.AF_INET, socket.SOCK_DGRAM)
    # Room for every datagram of a test, so the receiver never drops any itself (root may force).
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 * 1024 * 1024)
    sock.bind(address)
    return sock


def drain(sock: socket.socket, quiet: float = 0.5) -> list[tuple[bytes, tuple[str, int]]]:
    """Every datagram that arrives until none has for ``quiet`` seconds."""
    got: list[tuple[bytes, tuple[str, int]]] = []
    sock.settimeout(quiet)
    while True:
        try:
            data, source = sock.recvfrom(65536)
        except TimeoutError:
            return got
        got.append((data, source))
