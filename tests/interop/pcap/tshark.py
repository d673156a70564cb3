"""What tshark says about a capture, for comparison with ``inspect``.

RTP is counted from tshark's own dissection of every packet (``-T fields -e rtp.ssrc -e
rtp.seq``), not from its ``rtp,streams`` summary: that summary miscounts RTSP-interleaved
streams when one TCP segment carries several RTP packets, as loopback captures (64 KB segments)
do, while the per-packet dissection of the same capture is right (see the README).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TsharkStream:
    destination: str
    ssrc: int
    packets: int
    lost: int
    """RFC 3550 A.3: expected (first to highest extended sequence number) minus received."""


def rtp_streams(capture: Path, rtsp_ports: Iterable[int] = ()) -> list[TsharkStream]:
    """Every RTP stream tshark dissects (heuristic RTP on, for flows no SETUP announced), told
    which ports carry RTSP: tshark recognises it by port (554, 8554), not by content.

    FFmpeg's NAT punch packets (a bare RTP header with SSRC 0) are left out: tshark's
    heuristic takes each for a stream of one packet. So are RTP packets quoted inside ICMP
    errors, which tshark dissects too.
    """
    command = [
        "tshark",
        "-r",
        str(capture),
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
        "-e",
        "ip.dst",
        "-e",
        "udp.dstport",
        "-e",
        "tcp.dstport",
        "-e",
        "rtp.p_type",
    ]
    for port in rtsp_ports:
        command += ["-d", f"tcp.port=={port},rtsp"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300).stdout
    sequences: dict[tuple[str, int], list[int]] = {}
    for line in output.splitlines():
        ssrcs, seqs, address, udp_port, tcp_port, _ = (line.split("\t") + [""] * 6)[:6]
        if "," in address:
            continue  # an RTP packet quoted by an ICMP error (port unreachable): not received
        destination = f"{address}:{udp_port or tcp_port}"
        for ssrc, seq in zip(ssrcs.split(","), seqs.split(","), strict=False):
            if ssrc and seq:
                sequences.setdefault((destination, int(ssrc, 16)), []).append(int(seq))
    streams = []
    for (destination, source), values in sequences.items():
        if source == 0 and len(values) <= 2:
            continue
        streams.append(TsharkStream(destination, source, len(values), _lost(values)))
    return streams


def _lost(sequence: list[int]) -> int:
    """Expected (first to highest, 16-bit wraps unrolled) minus received."""
    extended = [sequence[0]]
    for seq in sequence[1:]:
        step = ((seq - extended[-1] + 0x8000) & 0xFFFF) - 0x8000
        extended.append(extended[-1] + step)
    return max(extended) - extended[0] + 1 - len(sequence)


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
