"""``camsim push URL --streams N``: publish the sample over RTMP/RTMPS as encoders do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import ssl
import sys
from pathlib import Path

import click

from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan, PlanError
from camsim.encoder.publisher import Backoff
from camsim.encoder.session import DEFAULT_CHUNK_SIZE, DEFAULT_TIMEOUT, PublishOptions
from camsim.encoder.stats import StreamState, StreamStats
from camsim.encoder.status import LiveStatus, format_summary
from camsim.encoder.target import (
    RTMP_DEFAULT_PORT,
    RTMPS_DEFAULT_PORT,
    STREAM_INDEX_PLACEHOLDER,
    PushTarget,
    TargetError,
    expand,
)
from camsim.fault.control import ProxyProtocol
from camsim.fault.manual import ScenarioProxies, manual_scenario, network_scenarios
from camsim.fault.scenarios import Role
from camsim.media.loader import LoaderError, describe_error, load
from camsim.media.make import SampleError, default_sample
from camsim.pcap.tap import CaptureTap
from wire.rtmp.chunk import MAX_CHUNK_SIZE

STREAMS_PER_CORE = 400
"""Streams of the default sample one core pushes (0.25 % of a core each, see the README): the
bound of ``--streams``, with one open file per stream."""
RESERVED_FILES = 64


def stream_limit() -> tuple[int, str]:
    """How many streams this machine can push at once, and why."""
    cores = os.cpu_count() or 1
    limit, why = STREAMS_PER_CORE * cores, f"one core pushes about {STREAMS_PER_CORE}"
    why += f" and this machine has {cores}"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft - RESERVED_FILES < limit:
        limit = max(soft - RESERVED_FILES, 1)
        why = f"the open-file limit is {soft} (ulimit -n) and each stream needs a connection"
    return limit, why


def tls_context(ca: Path | None, insecure: bool) -> ssl.SSLContext:
    """Certificate and host name verification on (system roots, or ``ca`` alone), unless
    ``insecure``. A CA file that cannot be used is a :class:`click.BadParameter` naming it."""
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    except OSError as error:  # ssl.SSLError included
        reason = (
            "it holds no PEM certificate"
            if isinstance(error, ssl.SSLError)
            else describe_error(error)
        )
        raise click.BadParameter(
            f"cannot use the CA file {ca}: {reason}", param_hint="--ca"
        ) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def load_plan(media: Path | None, enhanced: bool) -> FlvPlan:
    try:
        path = media if media is not None else default_sample()
        return FlvPlan.build(load(path), enhanced=enhanced)
    except (LoaderError, PlanError, SampleError) as exc:
        raise click.ClickException(str(exc)) from None


def parse_targets(url: str, streams: int) -> list[PushTarget]:
    if streams > 1 and STREAM_INDEX_PLACEHOLDER not in url:
        raise click.BadParameter(
            f"{streams} streams would all publish the same name; put {{n}} in the URL "
            "(e.g. rtmp://host/live/cam{n})",
            param_hint="URL",
        )
    try:
        return [PushTarget.parse(expand(url, n)) for n in range(1, streams + 1)]
    except TargetError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("url")
@click.option(
    "--streams",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help=f"Publishers at once ({{n}} in URL numbers them; at most {STREAMS_PER_CORE} per core).",
)
@click.option(
    "--media",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sample to publish (looped); the default sample otherwise.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, MAX_CHUNK_SIZE),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Outgoing RTMP chunk size (announced with Set Chunk Size unless 128).",
)
@click.option("--enhanced", is_flag=True, help="Enhanced RTMP video (hvc1, or avc1 for H.264).")
@click.option("--reconnect", is_flag=True, help="Reconnect after errors, with capped backoff.")
@click.option(
    "--reconnect-cap",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Longest wait between reconnect attempts, in seconds.",
)
@click.option(
    "--start-timestamp",
    type=click.IntRange(0, 0xFFFFFFFF),
    default=0,
    show_default=True,
    help="Timestamp of the first frame in ms (e.g. 16770000 crosses 2^24 ms in 7 s).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds allowed for each phase (TCP, TLS, handshake, connect, publish, stalls).",
)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust only this CA bundle (PEM) for rtmps://.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the rtmps:// certificate.")
@click.option("--json", "as_json", is_flag=True, help="Print per-stream stats as JSON.")
@click.option(
    "--capture",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what the streams send and receive to this pcapng file (no privileges needed).",
)
@click.option(
    "--fault",
    "fault_name",
    type=click.Choice(network_scenarios(Role.INGEST)),
    help="Push through a proxy that plays this fault scenario (with --reconnect to recover).",
)
@click.option("--fault-seed", type=int, help="Seed of --fault (default: the scenario's own).")
def push(
    url: str,
    streams: int,
    media: Path | None,
    duration: float | None,
    chunk_size: int,
    enhanced: bool,
    reconnect: bool,
    reconnect_cap: float,
    start_timestamp: int,
    timeout: float,
    ca: Path | None,
    insecure: bool,
    as_json: bool,
    capture: Path | None,
    fault_name: str | None = None,
    fault_seed: int | None = None,
) -> None:
    """Publish the sample to URL like OBS or FFmpeg, N streams at once.

    URL is rtmp://host[:port]/app/name or rtmps://...; {n} in it becomes the stream index
    (1..N). Media is paced in real time and looped with continuous timestamps; each frame's
    SEI wallclock stamp is rewritten as it is sent. Runs until --duration or Ctrl-C; exits
    non-zero when a stream failed (a rejected publish prints the server's onStatus code).
    """
    limit, why = stream_limit()
    if streams > limit:
        raise click.BadParameter(f"{streams}: at most {limit} here ({why})", param_hint="--streams")
    targets = parse_targets(url, streams)
    ssl_context = tls_context(ca, insecure) if targets[0].tls else None  # before the sample
    plan = load_plan(media, enhanced)
    options = PublishOptions(
        chunk_size=chunk_size,
        timeout=timeout,
        start_timestamp=start_timestamp,
        ssl_context=ssl_context,
        capture=CaptureTap(capture) if capture is not None else None,
    )
    live = LiveStatus(sys.stderr) if sys.stderr.isatty() else None
    scenario = None if fault_name is None else manual_scenario(fault_name, Role.INGEST)

    async def pushing() -> list[StreamStats]:
        async with contextlib.AsyncExitStack() as stack:
            pushed = targets
            if scenario is not None:
                faults = await stack.enter_async_context(
                    ScenarioProxies(scenario, fault_seed, ProxyProtocol.TCP)
                )
                port = RTMPS_DEFAULT_PORT if targets[0].tls else RTMP_DEFAULT_PORT
                urls = await faults.front([t.url for t in targets], default_port=port)
                pushed = [PushTarget.parse(u) for u in urls]
            fleet = EncoderFleet(
                pushed, plan, options, reconnect=reconnect, backoff=Backoff(cap=reconnect_cap)
            )
            return await fleet.run(duration, on_status=live)

    try:
        results = asyncio.run(pushing())
    finally:
        if options.capture is not None:
            options.capture.close()
    report(results, as_json)


def report(results: list[StreamStats], as_json: bool) -> None:
    """Print the outcome; exit 1 when any stream failed."""
    if as_json:
        click.echo(json.dumps({"streams": [s.to_json() for s in results]}, indent=2))
    else:
        click.echo(format_summary(results))
    failed = [s for s in results if s.state is StreamState.FAILED]
    for stats in failed:
        click.echo(f"stream {stats.index} ({stats.url}): {stats.error}", err=True)
    if failed:
        sys.exit(1)
