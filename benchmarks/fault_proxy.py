"""The fault proxy's cost per camera stream, against the cameras it relays in the same run.

N camsim cameras serve the sample; ``camsim fault proxy --protocol rtsp`` sits in front of them
with a seeded 5% loss on the media; :mod:`benchmarks.rtsp_load` pulls every camera through the
proxy over UDP (so every RTP/RTCP packet crosses the proxy and its loss model) with clients that
do not read their sockets (they cost next to nothing). Over the same window, after a warm-up that
covers every SETUP and PLAY:

- the proxy's CPU (user + system, all threads, from /proc) as a fraction of one core, and per
  stream;
- the camera process's CPU, the peer: the proxy relays what the cameras packetize and pace, so
  ``proxy / cameras`` says what the impairment costs next to making the traffic at all;
- packets the cameras sent in the window (``camsim run --json``) and the streams that received.

    python -m benchmarks.fault_proxy --cameras 50 --seconds 20

The default is 10 cameras for a quick run, of the default sample (720p30, 2 Mbit/s, AAC: what the
50-stream target is stated for); ``--media`` takes any file.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.camera_vs_gst import Server, camsim_server, cpu_seconds, urls
from camsim.media.make import default_sample

PROXY = [sys.executable, "-c", "from camsim.cli import main; main()", "fault", "proxy"]


@dataclass
class Result:
    cameras: int
    seconds: float
    loss: str
    proxy_cpu: float
    """Fraction of one core."""
    proxy_cpu_per_stream: float
    camera_cpu: float
    ratio: float
    """Proxy CPU over camera CPU."""
    packets_sent: int | None
    receiving: int
    failures: list[str]


def proxy_server(camera_port: int, port: int, loss: str, seed: int) -> Server:
    command = [
        *PROXY,
        "--protocol", "rtsp",
        "--listen", f"127.0.0.1:{port}",
        "--upstream", f"127.0.0.1:{camera_port}",
        "--set", f"down_loss={loss}",
        "--seed", str(seed),
        "--json",
    ]  # fmt: skip
    return Server("fault proxy", command, '"listening"')


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now (others may run servers on fixed ports here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(sample: Path, cameras: int, seconds: float, warmup: float, loss: str) -> Result:
    port, proxy_port = free_port(), free_port()
    camera = camsim_server(sample, cameras, port)
    proxy = None
    try:
        proxy = proxy_server(port, proxy_port, loss, seed=1)
        load = subprocess.Popen(
            [
                sys.executable, "-m", "benchmarks.rtsp_load",
                "--seconds", str(seconds + warmup), "--transport", "udp", "--discard",
                *urls(proxy_port, cameras),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(warmup)
        status_before = camera.last_status()
        proxy_before = cpu_seconds(proxy.process.pid)
        camera_before = cpu_seconds(camera.process.pid)
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        proxy_cpu = (cpu_seconds(proxy.process.pid) - proxy_before) / elapsed
        camera_cpu = (cpu_seconds(camera.process.pid) - camera_before) / elapsed
        status = camera.last_status()
        output, _ = load.communicate(timeout=seconds + warmup + 60)
    finally:
        if proxy is not None:
            proxy.stop()
        camera.stop()
    result = json.loads(output) if output.strip() else {}
    sent = None
    if status is not None and status_before is not None and "packets" in status:
        sent = int(status["packets"]) - int(status_before["packets"])
    return Result(
        cameras,
        seconds,
        loss,
        round(proxy_cpu, 4),
        round(proxy_cpu / cameras, 5),
        round(camera_cpu, 4),
        round(proxy_cpu / camera_cpu, 3) if camera_cpu else float("nan"),
        sent,
        result.get("receiving", 0),
        result.get("failures", ["no output from the consumer"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10, help="camera streams (50 is the target)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    parser.add_argument("--loss", default="5%", help="media loss set on the proxy")
    parser.add_argument("--media", type=Path, help="sample file (default: the default 720p sample)")
    args = parser.parse_args()
    sample = args.media or default_sample()
    result = run(sample, args.cameras, args.seconds, args.warmup, args.loss)
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
