"""CPU per stream: ``camsim push`` (one process, N streams) against N ``ffmpeg -re -c copy -f flv``.

Both push the same sample to the same nginx-rtmp, one after the other, and are measured over the
same wall time after a warm-up, from ``/proc/<pid>/stat`` (utime + stime of every thread)::

    python -m benchmarks.push_vs_ffmpeg --streams 20 --seconds 30

The ratio printed is camsim's CPU per stream over FFmpeg's; at most 1.0 is the target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from camsim.media.make import default_sample
from tests.interop.encoder.nginx_rtmp import NginxRtmp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    name: str
    processes: int
    streams: int
    seconds: float
    cpu_seconds: float

    @property
    def core_percent_per_stream(self) -> float:
        return 100 * self.cpu_seconds / self.seconds / self.streams


@dataclass(frozen=True)
class Result:
    streams: int
    seconds: float
    camsim: Measurement
    ffmpeg: Measurement

    @property
    def ratio(self) -> float:
        """camsim CPU per stream divided by FFmpeg's."""
        return self.camsim.core_percent_per_stream / self.ffmpeg.core_percent_per_stream

    def to_json(self) -> dict[str, object]:
        return {
            "streams": self.streams,
            "seconds": self.seconds,
            "camsim": asdict(self.camsim) | _percent(self.camsim),
            "ffmpeg": asdict(self.ffmpeg) | _percent(self.ffmpeg),
            "ratio": round(self.ratio, 3),
        }

    def format(self) -> str:
        lines = [f"{self.streams} streams, {self.seconds:g} s measured after warm-up"]
        for m in (self.camsim, self.ffmpeg):
            lines.append(
                f"  {m.name:<8} {m.processes:>3} process(es)  {m.cpu_seconds:7.2f} CPU s  "
                f"{m.core_percent_per_stream:6.2f} % of a core per stream"
            )
        lines.append(f"  ratio camsim/ffmpeg per stream: {self.ratio:.3f}")
        return "\n".join(lines)


def _percent(m: Measurement) -> dict[str, float]:
    return {"core_percent_per_stream": round(m.core_percent_per_stream, 3)}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def measure(
    name: str,
    processes: Sequence[subprocess.Popen[bytes]],
    streams: int,
    warmup: float,
    seconds: float,
) -> Measurement:
    time.sleep(warmup)
    for process in processes:
        if process.poll() is not None:
            raise RuntimeError(f"{name}: a process exited during warm-up ({process.args!r})")
    start = sum(cpu_seconds(p.pid) for p in processes)
    started = time.monotonic()
    time.sleep(seconds)
    used = sum(cpu_seconds(p.pid) for p in processes) - start
    elapsed = time.monotonic() - started
    return Measurement(name, len(processes), streams, elapsed, used)


def run_camsim(
    nginx: NginxRtmp, media: Path, streams: int, warmup: float, seconds: float
) -> Measurement:
    url = nginx.rtmp_url("camsim{n}")
    command = [
        sys.executable,
        "-c",
        "from camsim.cli import main; main()",
        "push",
        url,
        "--streams",
        str(streams),
        "--media",
        str(media),
        "--duration",
        str(warmup + seconds + 1),
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        result = measure("camsim", [process], streams, warmup, seconds)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"camsim push failed: {out.decode()[-2000:]}")
    return result


def run_ffmpeg(
    nginx: NginxRtmp, media: Path, streams: int, warmup: float, seconds: float
) -> Measurement:
    processes = [
        subprocess.Popen(
            [
                *("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"),
                *("-re", "-stream_loop", "-1", "-i", str(media)),
                *("-c", "copy", "-f", "flv", nginx.rtmp_url(f"ffmpeg{n}")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(1, streams + 1)
    ]
    try:
        return measure("ffmpeg", processes, streams, warmup, seconds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(streams: int, seconds: float, warmup: float, media: Path | None = None) -> Result:
    if shutil.which("ffmpeg") is None or shutil.which("nginx") is None:
        raise RuntimeError("ffmpeg and nginx (with libnginx-mod-rtmp) are needed")
    sample = media if media is not None else default_sample()
    with (
        tempfile.TemporaryDirectory(prefix="camsim-bench-") as folder,
        NginxRtmp(Path(folder)) as nginx,
    ):
        camsim = run_camsim(nginx, sample, streams, warmup, seconds)
        ffmpeg = run_ffmpeg(nginx, sample, streams, warmup, seconds)
    return Result(streams, seconds, camsim, ffmpeg)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured wall time")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--media", type=Path, help="sample (default: the default sample)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.streams, args.seconds, args.warmup, args.media)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.format())


if __name__ == "__main__":
    main()
