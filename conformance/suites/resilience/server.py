"""An ingest server the suite starts, kills with SIGKILL and starts again (server-restart).

``--target`` is then the server's command line with ``{rtmp_port}`` and ``{http_port}`` (free
ports on 127.0.0.1 the suite picks) and ``{out}`` (an empty folder for it to write into)::

    camsim conform --suite resilience \\
        --target 'refserver --bind 127.0.0.1 --rtmp-port {rtmp_port} --no-rtmps \\
                  --http-port {http_port} --hls-dir {out} --target-duration 1' \\
        --hls 'http://127.0.0.1:{http_port}/live/{name}/index.m3u8'

Every start is bounded: the server must accept RTMP connections within
:data:`READY_SECONDS`, and is killed with its process group at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

READY_SECONDS = 15.0
FIELDS = ("{rtmp_port}", "{http_port}")


def is_server_command(template: str) -> bool:
    return all(name in template for name in FIELDS)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ManagedServer:
    """One server process from the command template, on its own ports and folder."""

    def __init__(self, words: list[str], out: Path, log: Path) -> None:
        self.rtmp_port = free_port()
        self.http_port = free_port()
        values = {"rtmp_port": self.rtmp_port, "http_port": self.http_port, "out": str(out)}
        self.argv = [word.format_map(values) for word in words]
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        """Start the server and wait until it accepts RTMP connections."""
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.starts += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_SECONDS
        while loop.time() < deadline:
            if self.process.returncode is not None:
                raise OSError(f"the server exited with status {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.rtmp_port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise OSError(f"the server did not accept RTMP within {READY_SECONDS:g} s")

    async def kill(self) -> None:
        """SIGKILL to the server's process group, as a crash or an OOM kill would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
