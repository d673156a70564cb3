"""Regenerate the reference captures of ``pcaps/`` and their manifests.

    .venv/bin/python pcaps/make_captures.py [--only NAME] [--keep-sample]

Needs ffmpeg/ffprobe and tshark; the GStreamer captures also need gst-rtsp-server for the
system Python (python3-gi, gir1.2-gst-rtsp-server-1.0) and root (dumpcap on the loopback
interface, filtered to the ports of the capture). Everything runs on 127.0.0.1.

Each capture comes with ``NAME.json``: how it was made and what ``camsim pcap inspect`` must
find, with every figure taken from a source other than ``inspect``: the frames of the sample
(ffprobe), the RTP packets and losses tshark counts, the datagrams this script left out, the
quirks it turned on. ``tests/unit/camsim/pcap/test_reference_captures.py`` holds ``inspect`` to
them, ``tests/interop/pcap/test_tshark.py`` holds it to tshark.
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
from camsim.pcap import impair  # noqa: E402
from camsim.pcap.capture import CaptureFile  # noqa: E402
from tests.interop.pcap.tshark import rtp_streams  # noqa: E402
from wire import pcapng  # noqa: E402

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
DROP_EVERY = 25


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


def camsim_pull(
    name: str, sample: Path, transport: str, *, quirks: str = "", drop: bool = False
) -> None:
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
    dropped = 0
    if drop:
        dropped = _drop_video_datagrams(raw, target)
    else:
        shutil.copyfile(raw, target)
    made_by = f"camsim run --capture, FFmpeg pulling over {transport} for {PULL_SECONDS} s"
    findings: list[str] = []
    if quirks:
        made_by += f", quirks {quirks}"
        findings += {"no-marker": ["marker-never-set"], "timestamp-jump": ["timestamp-jump"]}.get(
            quirks, []
        )
    if drop:
        made_by += f"; every {DROP_EVERY}th video RTP datagram then left out of the capture"
        findings.append("rtp-loss")
    expect = {
        "rtsp_dialogs": 1,
        "transport": {"udp": "udp", "tcp": "tcp", "http": "http"}[transport],
        "rtp_streams": tshark_rtp(target, port),
        "video_missing": dropped,
        "findings": findings,
    }
    write_manifest(name, made_by, expect)


def _drop_video_datagrams(source: Path, target: Path) -> int:
    """Copy ``source`` leaving out every DROP_EVERY-th datagram of the video RTP flow."""
    from camsim.pcap.inspect import inspect_capture

    result = inspect_capture(source)
    video = next(s for s in result.rtp_streams if s.media.media == "video")
    port = video.flow.destination.port
    with CaptureFile.open(source) as capture:
        packets = [
            (
                record.timestamp_ns,
                bytes(capture.buffer[record.offset : record.offset + record.captured_length]),
            )
            for record in capture.packets()
        ]
    count = 0

    def edit(index: int, payload: bytearray) -> bytes | None:
        nonlocal count
        # Not the first nor the last: a receiver cannot see losses at either end.
        if index % DROP_EVERY == DROP_EVERY - 1 and index < video.packets - 1:
            count += 1
            return None
        return bytes(payload)

    kept = impair.rewrite_udp(packets, port, edit)
    with target.open("wb") as file:
        file.write(pcapng.file_header("camsim run --capture"))
        for timestamp, packet in kept:
            file.write(pcapng.enhanced_packet(timestamp, packet))
    return count


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
    "camsim-camera-udp-loss": lambda s: camsim_pull("camsim-camera-udp-loss", s, "udp", drop=True),
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
