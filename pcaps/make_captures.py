"""Regenerate the reference captures of ``pcaps/`` and their manifests.

    .venv/bin/python pcaps/make_captures.py [--only NAME] [--keep-sample]

Needs ffmpeg/ffprobe and tshark; the GStreamer captures and the one through the fault proxy
need root (dumpcap on the loopback interface, filtered to the ports of the capture), the
GStreamer ones also gst-rtsp-server for the system Python (python3-gi,
gir1.2-gst-rtsp-server-1.0). Everything runs on 127.0.0.1.

Each capture comes with ``NAME.json``: how it was made and what ``camsim pcap inspect`` must
find, with every figure taken from a source other than ``inspect``: the frames of the sample
(ffprobe), the RTP packets and losses tshark counts, the packets the fault proxy's seeded link
dropped, the quirks it turned on. ``tests/unit/camsim/pcap/test_reference_captures.py`` holds
``inspect`` to them, ``tests/interop/pcap/test_tshark.py`` holds it to tshark.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camsim.media.make import make_sample  # noqa: E402
from camsim.media.spec import SampleSpec  # noqa: E402
from tests.interop.pcap.tshark import rtp_streams  # noqa: E402

HERE = Path(__file__).resolve().parent
VENV = ROOT / ".venv" / "bin"
SYSTEM_PYTHON = "/usr/bin/python3"
GST_CAMERAS = ROOT / "benchmarks" / "peers" / "gst_cameras.py"
SAMPLE_SPEC = SampleSpec(
    width=320,
    height=240,
    fps=Fraction(15),
    gop_seconds=Fraction(2),
    duration=Fraction(6),
    bitrate=300_000,
    audio_bitrate=64_000,
)
PULL_SECONDS = 5
CLIENT_PORTS = (46000, 46100)
"""FFmpeg's RTP/RTCP ports, so that a loopback capture can be filtered to this pull alone."""
PROXY_LOSS, PROXY_SEED = "0.04", 16
"""The fault proxy's loss (server to client) and seed for camsim-camera-udp-loss."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def process(command: list[str], port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A program started here and stopped (SIGINT, then SIGKILL) by its own PID."""
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if port is not None:
            wait_for_port(port)
        yield started
    finally:
        started.send_signal(signal.SIGINT)
        try:
            started.wait(15)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait(5)


def ffmpeg_pull(url: str, transport: str) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-min_port",
            str(CLIENT_PORTS[0]),
            "-max_port",
            str(CLIENT_PORTS[1]),
            "-i",
            url,
            "-t",
            str(PULL_SECONDS),
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        check=True,
        timeout=60,
    )


def ffprobe_frames(path: Path) -> dict[str, int]:
    output = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=codec_type,nb_read_packets",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {s["codec_type"]: int(s["nb_read_packets"]) for s in json.loads(output)["streams"]}


def tshark_rtp(path: Path, rtsp_port: int | None = None) -> list[dict[str, object]]:
    """Per RTP stream: SSRC, packets and lost, from tshark's dissection of every packet (told
    that the RTSP port is RTSP: tshark goes by port numbers, 554 and 8554)."""
    streams = rtp_streams(path, [rtsp_port] if rtsp_port is not None else [])
    return sorted(
        ({"ssrc": f"{s.ssrc:08X}", "packets": s.packets, "lost": s.lost} for s in streams),
        key=lambda s: str(s["ssrc"]),
    )


def rtp_info_findings(path: Path, rtsp_port: int) -> list[str]:
    """``rtp-info-mismatch`` when an RTP-Info seq (as tshark reads the PLAY answer) is the first
    sequence number of no stream (as tshark reads the packets)."""
    text = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-d",
            f"tcp.port=={rtsp_port},rtsp",
            "-V",
            "-Y",
            "rtsp.response",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    announced = {
        int(seq)
        for seq in re.findall(r"RTP-Info:.*", text)
        for seq in re.findall(r";seq=(\d+)", seq)
    }
    output = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-d",
            f"tcp.port=={rtsp_port},rtsp",
            "-o",
            "rtp.heuristic_rtp:TRUE",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "rtp.ssrc",
            "-e",
            "rtp.seq",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    first: dict[str, int] = {}
    for line in output.splitlines():
        ssrcs, seqs = [*line.split("\t"), ""][:2]
        for ssrc, seq in zip(ssrcs.split(","), seqs.split(","), strict=False):
            if ssrc and seq and int(ssrc, 16):
                first.setdefault(ssrc, int(seq))
    return ["rtp-info-mismatch"] if announced - set(first.values()) else []


def write_manifest(name: str, made_by: str, expect: Mapping[str, object]) -> None:
    capture = HERE / f"{name}.pcapng"
    manifest = {
        "capture": capture.name,
        "bytes": capture.stat().st_size,
        "made_by": made_by,
        "expect": expect,
    }
    (HERE / f"{name}.json").write_text(json.dumps(manifest, indent=2) + "\n")


# The captures.


def camsim_pull(name: str, sample: Path, transport: str, *, quirks: str = "") -> None:
    """camsim run --capture, FFmpeg pulling one camera over ``transport``."""
    port = free_port()
    raw = Path(tempfile.mkdtemp()) / "raw.pcapng"
    command = [
        str(VENV / "camsim"),
        "run",
        "--cameras",
        "1",
        "--port",
        str(port),
        "--media",
        str(sample),
        "--capture",
        str(raw),
    ]
    if quirks:
        command += ["--quirks", quirks]
    with process(command, port):
        ffmpeg_pull(f"rtsp://127.0.0.1:{port}/cam1", transport)
        time.sleep(0.5)
    target = HERE / f"{name}.pcapng"
    shutil.copyfile(raw, target)
    made_by = f"camsim run --capture, FFmpeg pulling over {transport} for {PULL_SECONDS} s"
    findings: list[str] = []
    if quirks:
        made_by += f", quirks {quirks}"
        findings += {"no-marker": ["marker-never-set"], "timestamp-jump": ["timestamp-jump"]}.get(
            quirks, []
        )
    expect = {
        "rtsp_dialogs": 1,
        "transport": {"udp": "udp", "tcp": "tcp", "http": "http"}[transport],
        "rtp_streams": tshark_rtp(target, port),
        "video_missing": 0,
        "findings": findings,
    }
    write_manifest(name, made_by, expect)


def camsim_pull_through_proxy(name: str, sample: Path, *, loss: str, seed: int) -> None:
    """camsim run --capture, FFmpeg pulling over UDP through ``camsim fault proxy --protocol
    rtsp`` losing ``loss`` of what goes to FFmpeg; dumpcap on lo between the proxy and FFmpeg.

    The video packets the proxy dropped are known without the proxy: its link for the first
    SETUP's RTP draws from ``random.Random("{seed}/rtp/0/down")``, and a packet's fate depends
    only on its place in the flow. That link, fed the packets the camera sent (its own capture),
    must lose exactly the sequence numbers FFmpeg's side of the capture lacks; the manifest's
    ``video_missing`` is what it lost between the first and the last packet that got through.
    """
    from camsim.fault.config import FaultConfig
    from camsim.fault.impair import Link
    from camsim.pcap.inspect import inspect_capture

    port, proxy_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp())
    sent = folder / "camera.pcapng"
    target = HERE / f"{name}.pcapng"
    camera = [str(VENV / "camsim"), "run", "--cameras", "1", "--port", str(port)]
    camera += ["--media", str(sample), "--capture", str(sent)]
    proxy = [str(VENV / "camsim"), "fault", "proxy", "--protocol", "rtsp", "--seed", str(seed)]
    proxy += ["--listen", f"127.0.0.1:{proxy_port}", "--upstream", f"127.0.0.1:{port}"]
    proxy += ["--set", f"down_loss={loss}"]
    # FFmpeg's side only: the RTSP connection to the proxy and FFmpeg's RTP/RTCP ports.
    capture_filter = f"tcp port {proxy_port} or udp portrange {CLIENT_PORTS[0]}-{CLIENT_PORTS[1]}"
    dumpcap = ["dumpcap", "-q", "-i", "lo", "-f", capture_filter, "-w", str(target)]
    with process(camera, port), process(proxy, proxy_port), process(dumpcap):
        time.sleep(2)  # dumpcap opens the interface
        ffmpeg_pull(f"rtsp://127.0.0.1:{proxy_port}/cam1", "udp")
        time.sleep(1)
    video = next(s for s in inspect_capture(sent).rtp_streams if s.media.media == "video")
    sequences = rtp_sequences(sent, port)[video.ssrc]
    received = set(rtp_sequences(target, proxy_port)[video.ssrc])
    link = Link(f"{seed}/rtp/0/down", FaultConfig().changed(down_loss=float(loss)).down)
    kept = [seq for seq in sequences if link.process(b"", 0.0)]
    dropped = sorted(set(sequences) - set(kept))
    places = {seq: place for place, seq in enumerate(sequences)}
    first, last = min(places[seq] for seq in received), max(places[seq] for seq in received)
    # What FFmpeg's side got is what the seeded link kept, over the span it saw.
    if received != set(kept) & set(sequences[first : last + 1]):
        raise RuntimeError("the capture's losses are not the fault proxy's seeded ones")
    missing = sum(1 for seq in dropped if first < places[seq] < last)
    made_by = (
        f"camsim run --capture, FFmpeg pulling over udp for {PULL_SECONDS} s through "
        f"camsim fault proxy --protocol rtsp --set down_loss={loss} --seed {seed}, dumpcap on lo "
        "between the proxy and FFmpeg"
    )
    expect = {
        "rtsp_dialogs": 1,
        "transport": "udp",
        "rtp_streams": tshark_rtp(target, proxy_port),
        "video_missing": missing,
        "findings": ["rtp-loss"],
    }
    write_manifest(name, made_by, expect)
    shutil.rmtree(folder, ignore_errors=True)


def rtp_sequences(path: Path, rtsp_port: int) -> dict[int, list[int]]:
    """Each SSRC's sequence numbers in capture order, as tshark dissects every RTP packet
    (RTP quoted inside ICMP errors left out)."""
    command = ["tshark", "-r", str(path), "-d", f"tcp.port=={rtsp_port},rtsp"]
    command += ["-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields"]
    command += ["-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "ip.dst"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    sequences: dict[int, list[int]] = {}
    for line in output.stdout.splitlines():
        ssrc, seq, address = [*line.split("\t"), "", ""][:3]
        if ssrc and seq and "," not in address:
            sequences.setdefault(int(ssrc, 16), []).append(int(seq))
    return sequences


def ffmpeg_rtmp(name: str, sample: Path) -> None:
    """FFmpeg publishing the sample to refserver, which records the connection."""
    rtmp, http = free_port(), free_port()
    folder = Path(tempfile.mkdtemp())
    target = HERE / f"{name}.pcapng"
    command = [
        str(VENV / "refserver"),
        "--rtmp-port",
        str(rtmp),
        "--http-port",
        str(http),
        "--no-rtmps",
        "--hls-dir",
        str(folder / "hls"),
        "--state-dir",
        str(folder / "state"),
        "--capture",
        str(target),
    ]
    with process(command, rtmp):
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-re",
                "-i",
                str(sample),
                "-c",
                "copy",
                "-f",
                "flv",
                f"rtmp://127.0.0.1:{rtmp}/live/studio_b",
            ],
            check=True,
            timeout=60,
        )
        time.sleep(0.5)
    frames = ffprobe_frames(sample)
    expect = {
        "rtmp": {
            "role": "publish",
            "app": "live",
            "stream": "studio_b",
            "video_frames": frames["video"],
            "audio_frames": frames["audio"],
        },
        "findings": [],
    }
    write_manifest(
        name, "FFmpeg -re -c copy -f flv publishing the sample to refserver --capture", expect
    )


def gstreamer_pull(name: str, sample: Path, transport: str) -> None:
    """gst-rtsp-server serving the sample, FFmpeg pulling it; dumpcap on lo, these ports only."""
    port = free_port()
    target = HERE / f"{name}.pcapng"
    capture_filter = f"tcp port {port} or udp portrange {CLIENT_PORTS[0]}-{CLIENT_PORTS[1]}"
    camera = [SYSTEM_PYTHON, str(GST_CAMERAS), str(sample), "1", str(port)]
    dumpcap = ["dumpcap", "-q", "-i", "lo", "-f", capture_filter, "-w", str(target)]
    with process(camera, port), process(dumpcap):
        time.sleep(2)  # dumpcap opens the interface
        ffmpeg_pull(f"rtsp://127.0.0.1:{port}/cam1", transport)
        time.sleep(1)
    made_by = (
        f"GStreamer gst-rtsp-server, FFmpeg pulling over {transport} for {PULL_SECONDS} s, "
        "dumpcap on lo"
    )
    expect = {
        "rtsp_dialogs": 1,
        "transport": transport,
        "rtp_streams": tshark_rtp(target, port),
        "video_missing": 0,
        "findings": rtp_info_findings(target, port),
    }
    write_manifest(name, made_by, expect)


CAPTURES: dict[str, Callable[[Path], None]] = {
    "camsim-camera-udp-loss": lambda s: camsim_pull_through_proxy(
        "camsim-camera-udp-loss", s, loss=PROXY_LOSS, seed=PROXY_SEED
    ),
    "camsim-camera-tcp": lambda s: camsim_pull("camsim-camera-tcp", s, "tcp"),
    "camsim-camera-http-tunnel": lambda s: camsim_pull("camsim-camera-http-tunnel", s, "http"),
    "camsim-camera-no-marker": lambda s: camsim_pull(
        "camsim-camera-no-marker", s, "udp", quirks="no-marker"
    ),
    "camsim-camera-timestamp-jump": lambda s: camsim_pull(
        "camsim-camera-timestamp-jump", s, "udp", quirks="timestamp-jump"
    ),
    "ffmpeg-rtmp-publish": lambda s: ffmpeg_rtmp("ffmpeg-rtmp-publish", s),
    "gstreamer-camera-udp": lambda s: gstreamer_pull("gstreamer-camera-udp", s, "udp"),
    "gstreamer-camera-tcp": lambda s: gstreamer_pull("gstreamer-camera-tcp", s, "tcp"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(CAPTURES), action="append")
    args = parser.parse_args()
    for program in ("ffmpeg", "ffprobe", "tshark"):
        if shutil.which(program) is None:
            print(f"{program} is needed", file=sys.stderr)
            return 2
    folder = Path(tempfile.mkdtemp(prefix="pcaps-"))
    sample = make_sample(SAMPLE_SPEC, folder / "sample.mp4")
    for name in args.only or sorted(CAPTURES):
        print(f"{name} ...", file=sys.stderr)
        CAPTURES[name](sample)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
