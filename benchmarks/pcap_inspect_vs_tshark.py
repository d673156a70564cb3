"""``camsim pcap inspect`` against ``tshark -q -z rtp,streams`` on the same million packets.

The capture is generated first (bounded by ``--packets``): a camsim camera session of the sample
over RTSP with RTP and RTCP over UDP, as :mod:`camsim.pcap.synth` writes it. Then each tool reads
it ``--runs`` times, alternating, as a process of its own; wall time and CPU time (user +
system, from ``wait4``) are taken for each run, and both tools' RTP packet counts must agree::

    python -m benchmarks.pcap_inspect_vs_tshark --packets 1000000 --runs 3

The machine is shared: CPU time is the fairer measure, the spread over the runs is printed.
The target: camsim at least 100k packets/s and no slower than tshark (ratio >= 1).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from camsim.media.loader import load
from camsim.media.make import cached_sample
from camsim.media.spec import DEFAULT_SPEC, parse_size
from camsim.pcap.capture import CaptureFile
from camsim.pcap.synth import write_camera_capture

TSHARK_STREAM_RE = re.compile(r"0x([0-9A-Fa-f]{8})\s+\S+\s+(\d+)\s")


@dataclass(frozen=True)
class Run:
    tool: str
    wall: float
    cpu: float
    packets: int

    @property
    def wall_rate(self) -> float:
        return self.packets / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.packets / self.cpu


def timed(command: list[str]) -> tuple[str, float, float]:
    """Run ``command``; its output, wall seconds and CPU seconds (user + system)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} failed with status {status}")
    return output.decode(), wall, usage.ru_utime + usage.ru_stime


def camsim_counts(output: str) -> dict[str, int]:
    return {s["ssrc"]: s["packets"] for s in json.loads(output)["rtp_streams"]}


def tshark_counts(output: str) -> dict[str, int]:
    return {m[1].upper(): int(m[2]) for m in TSHARK_STREAM_RE.finditer(output)}


def run(
    packets: int = 1_000_000, runs: int = 3, *, size: str | None = None, keep: Path | None = None
) -> dict[str, object]:
    """Generate the capture, time both tools ``runs`` times each, check they agree; the
    summary (raises ``RuntimeError`` when their RTP counts differ)."""
    if not 1 <= packets <= 5_000_000:
        raise ValueError("packets must be in 1..5000000")
    spec = DEFAULT_SPEC
    if size:
        width, height = parse_size(size)
        spec = spec.with_changes(
            width=width, height=height, bitrate=spec.bitrate * width * height // (1280 * 720)
        )
    sample = load(cached_sample(spec))
    folder = Path(tempfile.mkdtemp(prefix="pcap-bench-"))
    capture = keep or folder / "camera.pcapng"
    try:
        began = time.perf_counter()
        write_camera_capture(capture, sample, transport="udp", seconds=1e9, max_packets=packets)
        with CaptureFile.open(capture) as opened:
            total = sum(1 for _ in opened.records())
        print(
            f"generated {capture} ({capture.stat().st_size / 1e6:.0f} MB, {total} packets) "
            f"in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        # ``python -m camsim.pcap`` is ``camsim pcap`` without importing the other commands
        # (PyAV, matplotlib), which costs every camsim command about a second of CPU at start.
        camsim = [sys.executable, "-m", "camsim.pcap", "inspect", "--json", str(capture)]
        tshark = ["tshark", "-r", str(capture), "-q", "-z", "rtp,streams"]
        measured: list[Run] = []
        counts: dict[str, dict[str, int]] = {}
        for _ in range(runs):
            for tool, command, parse in (
                ("camsim", camsim, camsim_counts),
                ("tshark", tshark, tshark_counts),
            ):
                output, wall, cpu = timed(command)
                counts[tool] = parse(output)
                measured.append(Run(tool, wall, cpu, total))
                print(f"{tool}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
        if counts["camsim"] != counts["tshark"]:
            raise RuntimeError(f"the tools disagree: {counts}")
        return summarize(measured, total, counts["camsim"])
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000, help="RTP packets to generate")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default=None, help="sample size WxH (default sample's if unset)")
    parser.add_argument("--keep", type=Path, help="keep the generated capture at this path")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("tshark") is None:
        print("tshark is not installed", file=sys.stderr)
        return 2
    try:
        report = run(args.packets, args.runs, size=args.size, keep=args.keep)
    except (ValueError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def summarize(runs: list[Run], total: int, counts: dict[str, int]) -> dict[str, object]:
    def stats(tool: str, attribute: str) -> dict[str, float]:
        values = [getattr(r, attribute) for r in runs if r.tool == tool]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    result: dict[str, object] = {"packets": total, "rtp_streams": counts}
    for tool in ("camsim", "tshark"):
        result[tool] = {
            "wall_packets_per_second": stats(tool, "wall_rate"),
            "cpu_packets_per_second": stats(tool, "cpu_rate"),
        }
    camsim_runs = [r for r in runs if r.tool == "camsim"]
    tshark_runs = [r for r in runs if r.tool == "tshark"]
    # Paired runs (one after the other) give the spread of the ratio, not just its median.
    cpu_ratios = [t.cpu / c.cpu for c, t in zip(camsim_runs, tshark_runs, strict=True)]
    wall_ratios = [t.wall / c.wall for c, t in zip(camsim_runs, tshark_runs, strict=True)]
    result["ratio_cpu"] = {
        "median": statistics.median(cpu_ratios),
        "min": min(cpu_ratios),
        "max": max(cpu_ratios),
    }
    result["ratio_wall"] = {
        "median": statistics.median(wall_ratios),
        "min": min(wall_ratios),
        "max": max(wall_ratios),
    }
    result["runs"] = [asdict(r) for r in runs]
    return result


def print_report(report: dict[str, object]) -> None:
    print(f"{report['packets']} packets, RTP streams {report['rtp_streams']}")
    for tool in ("camsim", "tshark"):
        figures = report[tool]
        assert isinstance(figures, dict)
        cpu, wall = figures["cpu_packets_per_second"], figures["wall_packets_per_second"]
        print(
            f"{tool:7} {cpu['median'] / 1000:7.0f}k packets/s of CPU ({cpu['min'] / 1000:.0f}k-"
            f"{cpu['max'] / 1000:.0f}k), {wall['median'] / 1000:7.0f}k packets/s wall "
            f"({wall['min'] / 1000:.0f}k-{wall['max'] / 1000:.0f}k)"
        )
    for name in ("ratio_cpu", "ratio_wall"):
        ratio = report[name]
        assert isinstance(ratio, dict)
        print(
            f"{name}: camsim {ratio['median']:.2f}x tshark's rate "
            f"({ratio['min']:.2f}-{ratio['max']:.2f}; above 1 is faster)"
        )


if __name__ == "__main__":
    sys.exit(main())
