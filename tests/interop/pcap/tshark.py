"""What tshark says about a capture, for comparison with ``inspect``."""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TsharkStream:
    source: str
    destination: str
    ssrc: int
    packets: int
    lost: int


def rtp_streams(capture: Path) -> list[TsharkStream]:
    """``tshark -q -z rtp,streams`` (heuristic RTP on, for flows no SETUP announced)."""
    output = subprocess.run(
        ["tshark", "-r", str(capture), "-q", "-z", "rtp,streams", "-o", "rtp.heuristic_rtp:TRUE"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    streams = []
    for line in output.splitlines():
        tokens = line.split()
        position = next((i for i, t in enumerate(tokens) if t.startswith("0x")), None)
        if position is None or position < 4:
            continue
        # Pkts and Lost come right before the "(x%)" that follows the loss count.
        lost_at = next(i for i in range(position, len(tokens)) if tokens[i].startswith("("))
        streams.append(
            TsharkStream(
                f"{tokens[position - 4]}:{tokens[position - 3]}",
                f"{tokens[position - 2]}:{tokens[position - 1]}",
                int(tokens[position], 16),
                int(tokens[lost_at - 2]),
                int(tokens[lost_at - 1]),
            )
        )
    return streams


def rtmp_message_types(capture: Path, port: int | None = None) -> Counter[int]:
    """RTMP messages by type id, as tshark's RTMPT dissector splits them."""
    command = [
        "tshark",
        "-r",
        str(capture),
        "-Y",
        "rtmpt",
        "-T",
        "fields",
        "-e",
        "rtmpt.header.typeid",
    ]
    if port is not None:
        command[3:3] = ["-d", f"tcp.port=={port},rtmpt"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300).stdout
    return Counter(
        int(value, 16) for line in output.splitlines() for value in line.split(",") if value
    )
