"""The server side of a bench: a local refserver on free ports, and any local server's CPU.

refserver runs as its own process (``refserver`` never imports camsim, and its CPU must not be
counted as the encoder's), with JSON logs the bench reads its ports from.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 20.0
REFSERVER = (sys.executable, "-c", "from refserver.cli import main; main()")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants as listed by ``/proc/*/task/*/children`` now."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return tree


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of every process in the trees rooted at ``pids``."""
    return sum(process_cpu_seconds(p) for root in pids for p in process_tree(root))


class LocalRefserver:
    """refserver on free loopback ports (RTMP, RTMPS with a self-signed certificate, HTTP),
    its logs and HLS in ``folder``; stopped with SIGINT (it finishes its playlists).

    ``bind`` and ``prefix`` run it elsewhere on this machine: in a network namespace with
    ``prefix`` ``ip netns exec NAME`` (which execs, so :attr:`pid` is still refserver's own) and
    ``bind`` that namespace's address.
    """

    def __init__(
        self, folder: Path, *, bind: str = "127.0.0.1", prefix: Sequence[str] = ()
    ) -> None:
        self.folder = folder
        self.bind = bind
        self.prefix = tuple(prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def rtmp_url(self) -> str:
        return f"rtmp://{self.bind}:{self.ports['rtmp']}/live/bench{{n}}"

    @property
    def rtmps_url(self) -> str:
        return f"rtmps://{self.bind}:{self.ports['rtmps']}/live/bench{{n}}"

    @property
    def api_url(self) -> str:
        return f"http://{self.bind}:{self.ports['http']}/api/streams/"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "refserver.log"
        command = [
            *self.prefix,
            *REFSERVER,
            f"--bind={self.bind}",
            "--rtmp-port=0",
            "--rtmps-port=0",
            "--http-port=0",
            f"--hls-dir={self.folder / 'hls'}",
            f"--state-dir={self.folder / 'state'}",
            "--log-format=json",
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.ports) < 3:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"refserver did not start: {log.read_text()[-2000:]}")
            for line in log.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message") == "listening":
                    port = urlsplit(entry["address"]).port
                    if port is not None:
                        self.ports[entry["protocol"]] = port
            time.sleep(0.05)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> LocalRefserver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
