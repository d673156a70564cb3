"""Where refserver's CPU goes per stream, measured without sockets: the hot paths in one process.

The live benchmarks (:mod:`benchmarks.refserver_vs_nginx`,
:mod:`benchmarks.refserver_pull_vs_ffmpeg`) say how much CPU refserver costs beside its peer;
this one says which functions hold it, so a change to a hot path is measured on its own, with no
peer, socket or scheduler noise:

- ``ingest``: a ``wire.rtmp`` client publishes the default sample into an
  :class:`~refserver.ingest.session.IngestSession` in memory, one ``receive_data`` per tag as
  FFmpeg writes them, and the session packages HLS into a temporary directory (synchronously,
  where refserver hands the writes to a thread).
- ``pull``: a :class:`~refserver.pull.attempt.PullAttempt` plays a camera over RTSP interleaved
  (TCP) in memory: OPTIONS, DESCRIBE (the SDP a camsim camera serving the default sample
  describes), SETUP per track and PLAY are answered by a scripted camera, then the attempt gets
  the bytes a camsim camera writes on its RTSP connection, one ``receive_data`` per burst (one
  access unit's ``$``-framed RTP packets, and the RTCP sender reports every 5 s), prepared once
  before the clock starts. The camera writes a wallclock in every picture's SEI stamp as it
  sends, as a live camsim camera does. Each frame goes to the stream's HLS packager as
  :class:`~refserver.pull.source.PullSource` hands it (synchronously here too).

The figure is CPU microseconds per second of one stream's media; times 20 (the live benchmark's
streams) divided by 10^6 it is the share of a core those streams' processing costs above the
floor of reading the sockets (:mod:`benchmarks.refserver_floor`). ``--profile`` prints the
functions that hold the time (cProfile, own time first) and ``--flame FILE`` writes a py-spy
flame graph of the same run when py-spy is installed::

    python -m benchmarks.hotpaths ingest --seconds 60
    python -m benchmarks.hotpaths pull --repeat 7       # each run, then their median
    python -m benchmarks.hotpaths ingest --profile
    python -m benchmarks.hotpaths pull --profile
    CAMSIM_NO_EXTENSIONS=1 python -m benchmarks.hotpaths ingest    # the pure-Python reference
    python -m benchmarks.hotpaths ingest --cold 4     # caches evicted before every read

A run feeds its reads back to back, so the session's code and objects stay in the CPU caches;
live, each read finds them evicted by everything that ran since, and the same work costs two to
four times more. ``--cold MIB`` writes that much memory before every read (not timed) to
measure the live cost; compare changes warm and cold, as a change that touches less memory
gains more cold.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, cast

from camsim.camera.device import Camera, track_control
from camsim.camera.plan import build_plan
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import InterleavedSink, RtpSender
from camsim.encoder.flv_source import FlvPlan, TagCursor
from camsim.media.loader import load
from camsim.media.make import default_sample
from refserver.config import Limits
from refserver.hls import Frame, FrameKind, HlsOptions
from refserver.ingest.admission import Admission
from refserver.ingest.keys import StreamKeys
from refserver.ingest.session import IngestContext, IngestSession
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import PullAttempt
from refserver.pull.tracks import Presentation, Track
from refserver.streams import LiveStream, PublisherInfo, StreamRegistry
from tests.unit.refserver.pull.scripted_camera import ScriptedCamera, ScriptedTrack
from wire import speedups
from wire.rtmp import RtmpClientConnection
from wire.rtp import ntp_from_unix

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


class Fed(Protocol):
    """What a run hands its reads to: a sans-IO session."""

    def receive_data(self, data: bytes, now: float) -> None: ...

    def next_event(self) -> object | None: ...

    def data_to_send(self) -> bytes: ...

    def get_timer(self) -> float | None: ...


class CacheEvictor:
    """Writes one byte in every cache line of ``megabytes`` of memory when called.

    A live server meets each read with cold caches: between two reads of one publisher come
    the other publishers' reads, the peers' processes and the kernel. Called between the reads
    of an in-memory run, it does the same to the session's code and objects, and their cost
    rises to what the live benchmarks measure (on this project's 2-core machine with 4 MiB of
    L2 per core, 4 MiB takes the ingest figure from about 1,100 to about 3,600 µs per media
    second, near the 4,100-4,500 µs live refserver spends above its floor).
    """

    LINE = 64

    def __init__(self, megabytes: float) -> None:
        size = int(megabytes * 2**20) // self.LINE * self.LINE
        if size <= 0:
            raise ValueError("the memory to evict the caches with must be positive")
        self._memory = bytearray(size)
        self._fills = (b"\x01" * (size // self.LINE), b"\x02" * (size // self.LINE))
        self._turn = 0

    def __call__(self) -> None:
        self._turn ^= 1  # a new value each time, so that every line is really written
        self._memory[:: self.LINE] = self._fills[self._turn]


def feed(
    session: Fed,
    reads: list[bytes],
    profile: pstats.Stats | None,
    between: Callable[[], object] | None = None,
) -> float:
    """CPU seconds ``session`` takes for ``reads``, one a millisecond, with what
    :class:`~wire.asyncio.pump.StreamPump` asks after every read (its events drained, its
    bytes to send, its deadline); with ``profile``, cProfile's figures of the same are added
    to it. ``between`` (a :class:`CacheEvictor`) runs before every read, outside the time
    measured and the profile."""
    profiler = cProfile.Profile() if profile is not None else None
    clock = time.process_time
    cpu = 0.0
    if profiler is not None:
        profiler.enable()
    started = clock()
    for now, data in enumerate(reads):
        if between is not None:
            if profiler is not None:
                profiler.disable()
            cpu += clock() - started
            between()
            started = clock()
            if profiler is not None:
                profiler.enable()
        session.receive_data(data, now * 1e-3)
        while session.next_event() is not None:
            pass
        session.data_to_send()
        session.get_timer()
    cpu += clock() - started
    if profiler is not None:
        profiler.disable()
        assert profile is not None
        profile.add(profiler)
    return cpu


def run_ingest(
    seconds: float, profile: pstats.Stats | None = None, between: Callable[[], object] | None = None
) -> Figures:
    session, reads, folder = ingest_reads(seconds)
    try:
        cpu = feed(session, reads, profile, between)
        if session.termination is not None:
            raise RuntimeError(f"the session ended: {session.termination}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Figures("ingest", speedups.implementation(), seconds, len(reads), cpu)


PULL_URL = "rtsp://127.0.0.1:8554/cam1"
SENDER_REPORT_INTERVAL = 5.0
"""Seconds between a camsim camera's RTCP sender reports."""


class CollectedWrites:
    """The camera's RTSP connection as its senders see it: every write kept, never full."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.parts.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class PackagingSink:
    """What :class:`~refserver.pull.source.PullSource` does with an attempt's frames: claim the
    stream at the start, configure its packager once the video's parameter sets are known,
    push every frame."""

    def __init__(self, registry: StreamRegistry) -> None:
        self.registry = registry
        self.presentation: Presentation | None = None
        self.stream: LiveStream | None = None
        self.frames = 0

    def started(self, presentation: Presentation, peer: str) -> None:
        self.presentation = presentation
        self.stream = self.registry.claim("bench", PublisherInfo(peer, "rtsp", 0.0, 1))

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        stream, presentation = self.stream, self.presentation
        assert stream is not None
        assert presentation is not None
        changed = frame.kind is FrameKind.VIDEO and any(t.changed for t in presentation.tracks)
        if changed or stream.segmenter is None:
            video = next((t.video for t in presentation.tracks if t.codec), None)
            audio = next((t.audio for t in presentation.tracks if t.audio), None)
            if video is None:
                return
            for t in presentation.tracks:
                t.changed = False
            stream.configure(video, audio)
        stream.push(frame, size)
        self.frames += 1

    def warning(self, message: str) -> None:
        pass


def camera_reads(seconds: float) -> tuple[bytes, list[str], str, list[bytes]]:
    """A camsim camera serving the default sample: its SDP, its tracks' controls, the
    ``RTP-Info`` of its PLAY answer (``{url}`` for the presentation URL), and the bytes it
    writes on the RTSP connection for ``seconds`` of media after PLAY, one element per burst
    (its RTCP sender reports join the burst they precede), as its senders frame them."""
    sample = load(default_sample())
    plan = build_plan(sample)
    # Only the description is asked of this camera; it never runs, so it needs no scheduler.
    camera = Camera("cam1", "/cam1", sample, plan, scheduler=cast(Scheduler, None),
                    pacing=PacingStats(), origin=0.0)  # fmt: skip
    sdp = camera.session_description("127.0.0.1")
    writes = CollectedWrites()
    senders = [
        RtpSender(
            track,
            plan.tracks[track].clock_rate,
            0x1000 + track,
            InterleavedSink(writes, 2 * track, 2 * track + 1),
            first_sequence=1000 * (track + 1),
            timestamp_offset=90_000 * (track + 1),
            cname="cam1",
        )
        for track in range(len(plan.tracks))
    ]
    rtp_info = ",".join(
        f"url={{url}}/{track_control(s.track)};seq={s.sequence};rtptime={s.timestamp(0)}"
        for s in senders
    )
    reads: list[bytes] = []
    next_report = 0.0
    for step in itertools.count():
        loop_number, index = divmod(step, len(plan.bursts))
        burst = plan.bursts[index]
        due = loop_number * plan.period_seconds + burst.offset
        if due >= seconds:
            break
        if due >= next_report:
            for sender in senders:
                rtp_timestamp = sender.timestamp(int(due * sender.clock_rate))
                sender.send_report(ntp_from_unix(1_700_000_000 + due), rtp_timestamp)
            next_report += SENDER_REPORT_INTERVAL
        ticks = loop_number * plan.tracks[burst.track].period_ticks + burst.ticks
        # Stamped with a wallclock as a live camera does at send time: an unstamped SEI would
        # make the packager read every stamp a second time, which no live pull does.
        wire = Camera.stamped_wire(burst) if burst.stamped else burst.wire
        senders[burst.track].deliver(wire, ticks, due, burst.payload_octets)
        reads.append(writes.take())
    return sdp, [track_control(s.track) for s in senders], rtp_info, reads


def pull_reads(seconds: float) -> tuple[PullAttempt, PackagingSink, list[bytes], Path]:
    """An attempt that has played a camera, and the camera's bytes for ``seconds`` of media,
    one element per burst (the reads the attempt will get)."""
    sdp, controls, rtp_info, reads = camera_reads(seconds)
    tracks = [ScriptedTrack(control, []) for control in controls]
    camera = ScriptedCamera(sdp.decode(), tracks, rtp_info=rtp_info)
    folder = Path(tempfile.mkdtemp(prefix="camsim-hotpaths-"))
    sink = PackagingSink(StreamRegistry(folder, HlsOptions()))
    attempt = PullAttempt(CameraAddress.parse(PULL_URL), sink, now=0.0, ssrc=0x5EED)
    while data := attempt.data_to_send():
        answer = camera.receive(data)
        if answer:
            attempt.receive_data(answer, 0.0)
        while attempt.next_event() is not None:
            pass
    if not attempt.announced:
        raise RuntimeError(f"the attempt did not play: {attempt.termination}")
    return attempt, sink, reads, folder


def run_pull(
    seconds: float, profile: pstats.Stats | None = None, between: Callable[[], object] | None = None
) -> Figures:
    attempt, sink, reads, folder = pull_reads(seconds)
    try:
        cpu = feed(attempt, reads, profile, between)
        if attempt.termination is not None:
            raise RuntimeError(f"the attempt ended: {attempt.termination}")
        if not sink.frames:
            raise RuntimeError("no frame reached the packager")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Figures("pull", speedups.implementation(), seconds, len(reads), cpu)


RUNS = {"ingest": run_ingest, "pull": run_pull}
MAX_REPEAT = 50
MAX_COLD_MIB = 256


def summary(runs: list[Figures]) -> str:
    """The median of several runs of one path, with their range: on a shared machine one run
    is a tenth off now and then, which a change to a hot path is smaller than."""
    figures = sorted(f.us_per_media_second for f in runs)
    return (
        f"{runs[0].path} ({runs[0].implementation}): median of {len(runs)} runs "
        f"{statistics.median(figures):,.0f} µs of CPU per second of one stream's media "
        f"(min {figures[0]:,.0f}, max {figures[-1]:,.0f})"
    )


def print_profile(stats: pstats.Stats, limit: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def flame(path_name: str, seconds: float, output: Path, cold: float | None = None) -> None:
    """A py-spy flame graph of the same run, in a child process py-spy starts itself."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("--flame needs py-spy (pip install py-spy)")
    command = [
        py_spy, "record", "--rate", "1000", "--format", "flamegraph", "-o", str(output), "--",
        sys.executable, "-m", "benchmarks.hotpaths", path_name, "--seconds", f"{seconds:g}",
    ]  # fmt: skip
    if cold is not None:
        command += ["--cold", f"{cold:g}"]
    subprocess.run(command, check=True, env=os.environ.copy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=sorted(RUNS))
    parser.add_argument("--seconds", type=float, default=60, help="seconds of media, at most 3600")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--limit", type=int, default=30, help="functions --profile prints")
    parser.add_argument("--flame", type=Path, help="write a py-spy flame graph SVG here")
    parser.add_argument(
        "--repeat", type=int, default=1, help=f"runs, each printed, then their median (at most "
        f"{MAX_REPEAT})",
    )  # fmt: skip
    parser.add_argument(
        "--cold", type=float, metavar="MIB", help="evict the CPU caches before every read by "
        "writing this much memory, as a live server's other work does (4 is about live here)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    if not 1 <= args.repeat <= MAX_REPEAT:
        parser.error(f"--repeat must be within 1..{MAX_REPEAT}")
    if args.cold is not None and not 0 < args.cold <= MAX_COLD_MIB:
        parser.error(f"--cold must be more than 0 and at most {MAX_COLD_MIB} MiB")
    if args.flame is not None:
        flame(args.path, seconds, args.flame, args.cold)
        return
    stats = pstats.Stats() if args.profile else None
    between = CacheEvictor(args.cold) if args.cold is not None else None
    runs = []
    for _ in range(args.repeat):
        figures = RUNS[args.path](seconds, stats, between)
        runs.append(figures)
        if not args.json:
            print(figures.format(), flush=True)
    if args.json:
        output: object = [f.to_json() for f in runs] if args.repeat > 1 else runs[0].to_json()
        print(json.dumps(output, indent=2))
    elif args.repeat > 1:
        print(summary(runs))
    if stats is not None:
        print(print_profile(stats, args.limit))


if __name__ == "__main__":
    main()
