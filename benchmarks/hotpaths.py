"""Where refserver's CPU goes per stream, measured without sockets: the hot paths in one process.

The live benchmarks (:mod:`benchmarks.refserver_vs_nginx`,
:mod:`benchmarks.refserver_pull_vs_ffmpeg`) say how much CPU refserver costs beside its peer;
this one says which functions hold it, so a change to a hot path is measured on its own, with no
peer, socket or scheduler noise:

- ``ingest``: a ``wire.rtmp`` client publishes the default sample into an
  :class:`~refserver.ingest.session.IngestSession` in memory, one ``receive_data`` per tag as
  FFmpeg writes them, and the session packages HLS into a temporary directory (synchronously,
  where refserver hands the writes to a thread).

The figure is CPU microseconds per second of one stream's media; times 20 (the live benchmark's
streams) divided by 10^6 it is the share of a core those streams' processing costs above the
floor of reading the sockets (:mod:`benchmarks.refserver_floor`). ``--profile`` prints the
functions that hold the time (cProfile, own time first) and ``--flame FILE`` writes a py-spy
flame graph of the same run when py-spy is installed::

    python -m benchmarks.hotpaths ingest --seconds 60
    python -m benchmarks.hotpaths ingest --profile
    CAMSIM_NO_EXTENSIONS=1 python -m benchmarks.hotpaths ingest    # the pure-Python reference
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from camsim.encoder.flv_source import FlvPlan, TagCursor
from camsim.media.loader import load
from camsim.media.make import default_sample
from refserver.config import Limits
from refserver.hls import HlsOptions
from refserver.ingest.admission import Admission
from refserver.ingest.keys import StreamKeys
from refserver.ingest.session import IngestContext, IngestSession
from refserver.streams import StreamRegistry
from wire import speedups
from wire.rtmp import RtmpClientConnection

MAX_SECONDS = 3600
"""A bound on one run: an hour of one stream's media."""


@dataclass
class Figures:
    path: str
    implementation: str
    media_seconds: float
    reads: int
    cpu_seconds: float

    @property
    def us_per_media_second(self) -> float:
        return self.cpu_seconds / self.media_seconds * 1e6

    def format(self) -> str:
        return (
            f"{self.path} ({self.implementation}): {self.us_per_media_second:,.0f} µs of CPU per"
            f" second of one stream's media, {self.cpu_seconds / self.reads * 1e6:.1f} µs per"
            f" read; 20 streams: {self.us_per_media_second * 20 / 1e4:.2f}% of a core"
        )

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "us_per_media_second": round(self.us_per_media_second, 1)}


def ingest_reads(seconds: float) -> tuple[IngestSession, list[bytes], Path]:
    """A session that has accepted a publish, and the client's bytes for ``seconds`` of media,
    one element per tag (the reads the session will get)."""
    folder = Path(tempfile.mkdtemp(prefix="camsim-hotpaths-"))
    limits = Limits()
    context = IngestContext(
        registry=StreamRegistry(folder, HlsOptions()),
        keys=StreamKeys({}),
        limits=limits,
        app="live",
        chunk_size=4096,
    )
    session = IngestSession(context, Admission(limits), now=0.0)
    refused = session.admit(0.0, lambda reason: None, peer="127.0.0.1:40000", host="127.0.0.1")
    if refused is not None:
        raise RuntimeError(f"the session refused the publisher: {refused}")
    client = RtmpClientConnection(app="live", tc_url="rtmp://127.0.0.1/live")

    def exchange() -> None:
        while True:
            to_server = client.data_to_send()
            if to_server:
                session.receive_data(to_server, 0.0)
            to_client = session.data_to_send()
            if to_client:
                client.receive_data(to_client, 0.0)
            while client.next_event() is not None:
                pass
            while session.next_event() is not None:
                pass
            if not to_server and not to_client:
                return

    client.initiate(0.0)
    exchange()
    client.publish("bench", 0.0)
    exchange()
    if not session.publishing:
        raise RuntimeError("the session did not start publishing")
    plan = FlvPlan.build(load(default_sample()))
    client.send_metadata(plan.metadata)
    client.send_video(0, plan.video_header)
    if plan.audio_header is not None:
        client.send_audio(0, plan.audio_header)
    reads = [client.data_to_send()]
    cursor = TagCursor(plan)
    while cursor.due_ms < seconds * 1000:
        frame = cursor.frame
        body = cursor.body(int(cursor.due_ms * 1000))
        if frame.type_id == 9:
            client.send_video(cursor.timestamp, body)
        else:
            client.send_audio(cursor.timestamp, body)
        reads.append(client.data_to_send())
        cursor.advance()
    return session, reads, folder


def run_ingest(seconds: float, profile: pstats.Stats | None = None) -> Figures:
    session, reads, folder = ingest_reads(seconds)
    try:
        profiler = cProfile.Profile()
        started = time.process_time()
        if profile is not None:
            profiler.enable()
        for now, data in enumerate(reads):
            session.receive_data(data, now * 1e-3)
            while session.next_event() is not None:
                pass
        if profile is not None:
            profiler.disable()
            profile.add(profiler)
        cpu = time.process_time() - started
        if session.termination is not None:
            raise RuntimeError(f"the session ended: {session.termination}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Figures("ingest", speedups.implementation(), seconds, len(reads), cpu)


RUNS = {"ingest": run_ingest}


def print_profile(stats: pstats.Stats, limit: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def flame(path_name: str, seconds: float, output: Path) -> None:
    """A py-spy flame graph of the same run, in a child process py-spy starts itself."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("--flame needs py-spy (pip install py-spy)")
    command = [
        py_spy, "record", "--rate", "1000", "--format", "flamegraph", "-o", str(output), "--",
        sys.executable, "-m", "benchmarks.hotpaths", path_name, "--seconds", f"{seconds:g}",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=os.environ.copy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=sorted(RUNS))
    parser.add_argument("--seconds", type=float, default=60, help="seconds of media, at most 3600")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--limit", type=int, default=30, help="functions --profile prints")
    parser.add_argument("--flame", type=Path, help="write a py-spy flame graph SVG here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    if args.flame is not None:
        flame(args.path, seconds, args.flame)
        return
    stats = pstats.Stats() if args.profile else None
    figures = RUNS[args.path](seconds, stats)
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.format())
    if stats is not None:
        print(print_profile(stats, args.limit))


if __name__ == "__main__":
    main()
