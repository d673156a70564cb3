"""``--capture FILE``: what camsim sends and receives, written as a pcapng file as it happens.

The blocks and headers come from :class:`wire.pcapng.PcapngRecorder`; this module owns the file.
No privileges are needed: nothing is sniffed, the application reports its own traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from wire.pcapng import PcapngRecorder, RecordedConnection

Address = tuple[str, int]


class CaptureWriter:
    """A pcapng file being written; ``drop_udp(n)`` may leave out the n-th datagram (from 0),
    the simplest impairment, for captures that must show loss."""

    def __init__(
        self,
        path: str | Path,
        *,
        application: str = "camsim",
        clock: Callable[[], int] = time.time_ns,
        drop_udp: Callable[[int], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.recorder = PcapngRecorder(application)
        self.clock = clock
        self.drop_udp = drop_udp
        self.datagrams = 0
        self.dropped = 0
        self._file: BinaryIO | None = self.path.open("wb")
        self._write(self.recorder.header())

    def _write(self, blocks: bytes) -> None:
        if self._file is not None and blocks:
            self._file.write(blocks)

    def udp(self, source: Address, destination: Address, payload: bytes) -> None:
        """One datagram sent from ``source`` to ``destination``."""
        index = self.datagrams
        self.datagrams += 1
        if self.drop_udp is not None and self.drop_udp(index):
            self.dropped += 1
            return
        self._write(self.recorder.udp(self.clock(), _plain(source), _plain(destination), payload))

    def connection(self, client: Address, server: Address) -> CapturedConnection:
        """A TCP connection; its handshake is written now."""
        recorded = self.recorder.connection(_plain(client), _plain(server))
        connection = CapturedConnection(self, recorded)
        self._write(recorded.open(self.clock()))
        return connection

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class CapturedConnection:
    """The bytes of one TCP connection, as each side wrote them."""

    def __init__(self, writer: CaptureWriter, recorded: RecordedConnection) -> None:
        self.writer = writer
        self.recorded = recorded

    def sent(self, from_client: bool, data: bytes) -> None:
        self.writer._write(self.recorded.data(self.writer.clock(), from_client, bytes(data)))

    def close(self, from_client: bool = True) -> None:
        self.writer._write(self.recorded.close(self.writer.clock(), from_client))


def _plain(address: Address) -> Address:
    """(host, port) of a socket address; IPv6 socket addresses carry flow info and scope too."""
    host = address[0].split("%", 1)[0]
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(address[1])
