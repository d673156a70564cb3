"""``camsim run``: a fleet of simulated RTSP cameras."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import resource
import signal
import sys
import textwrap
from pathlib import Path
from types import FrameType

import click

from camsim.camera.fleet import AuthScheme, CameraFleet, FleetConfig, Layout
from camsim.camera.multicast import DEFAULT_PORT as DEFAULT_MULTICAST_PORT
from camsim.camera.multicast import DEFAULT_TTL as DEFAULT_MULTICAST_TTL
from camsim.camera.multicast import MulticastConfig
from camsim.camera.origin import SEQUENCE_MODULUS, TIMESTAMP_MODULUS, RtpOrigin, parse_origin
from camsim.camera.quirks import MIXED, REGISTRY
from camsim.camera.scheduler import DEFAULT_LATE_AFTER
from camsim.camera.server import CONNECTIONS_PER_CAMERA, CONNECTIONS_PER_IP_PER_CAMERA
from camsim.camera.status import StatusMeter
from camsim.camera.tls import CertificateError, server_context
from camsim.fault.manual import ScenarioProxies, manual_scenario, network_scenarios
from camsim.fault.scenarios import FaultScenario, Role
from camsim.media.loader import LoaderError, describe_error
from camsim.media.make import SampleError, cache_dir, cached_sample
from camsim.media.spec import AudioCodec, SampleSpec, parse_size
from wire.codec.nal import VideoCodec

CAMERAS_PER_CORE = 350
"""Cameras of the default sample one core serves with a viewer each and no late packet
(measured against gst-rtsp-server, see the README): the bound of ``--cameras``."""
RESERVED_FILES = 64
"""Open files kept for the rest of the process (the sample, UDP sockets, logs...)."""
MIN_INTERVAL = 0.1
"""Seconds between status lines at least: more often is unreadable, and costs the cameras."""
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def _list_quirks(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    for name in sorted(REGISTRY):
        profile = REGISTRY[name]
        click.echo(f"{name}")
        for label, text in (
            ("on the wire", profile.summary),
            ("seen on", profile.devices),
            ("client must", profile.client_must),
        ):
            wrapped = textwrap.wrap(text, 76 - 16)
            click.echo(f"    {label + ':':<12} {wrapped[0]}")
            for more in wrapped[1:]:
                click.echo(f"    {'':<12} {more}")
    click.echo(f"{MIXED}\n    {'':<12} one of the above (or none) per camera, drawn with --seed")
    ctx.exit()


def camera_limit(layout: Layout) -> tuple[int, str]:
    """How many cameras this machine can serve, and why: cores, then open files (one listening
    socket per camera with ``--layout ports``, and a connection per viewer either way)."""
    cores = os.cpu_count() or 1
    limit = CAMERAS_PER_CORE * cores
    why = f"one core serves about {CAMERAS_PER_CORE} cameras and this machine has {cores}"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        per_camera = 2 if layout is Layout.PORTS else 1
        by_files = max((soft - RESERVED_FILES) // per_camera, 1)
        if by_files < limit:
            sockets = "a port and a viewer" if layout is Layout.PORTS else "a viewer"
            limit = by_files
            why = f"the open-file limit is {soft} (ulimit -n) and each camera needs {sockets}"
    return limit, why


def _parse_users(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    users = []
    for value in values:
        user, colon, password = value.partition(":")
        if not colon or not user:
            raise click.BadParameter(f"{value!r}: expected USER:PASSWORD", param_hint="--auth")
        users.append((user, password))
    return tuple(users)


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-n",
    "--cameras",
    default=1,
    show_default=True,
    help=f"Number of cameras (at most {CAMERAS_PER_CORE} per core).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 0xFFFF),
    default=8554,
    show_default=True,
    help="RTSP port (the first one with --layout ports); 0 picks a free one.",
)
@click.option(
    "--layout",
    type=click.Choice([layout.value for layout in Layout]),
    default=Layout.PATHS.value,
    show_default=True,
    help="paths: /cam1../camN on one port; ports: one port per camera.",
)
@click.option(
    "--media",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Media file to play (repeat: files are assigned round robin). Default: the sample.",
)
@click.option(
    "--codec",
    type=click.Choice([c.value for c in VideoCodec]),
    default=VideoCodec.H264.value,
    show_default=True,
    help="Codec of the default sample.",
)
@click.option(
    "--audio",
    type=click.Choice([*(c.value for c in AudioCodec), "none"]),
    default=AudioCodec.AAC.value,
    show_default=True,
    help="Audio of the default sample: AAC, G.711 (pcmu, pcma: 8 kHz mono, payload types 0 "
    "and 8), Opus (48 kHz) or none.",
)
@click.option(
    "--audio-only", is_flag=True, help="The default sample has no video (no m=video section)."
)
@click.option(
    "--switch-size",
    metavar="WxH",
    help="The default sample changes to this picture size at the keyframe in the middle of "
    "its loop, with new SPS and PPS in band while the SDP keeps the first (H.264).",
)
@click.option("--quirks", default="", help=f"Quirk profiles NAME[,NAME], or {MIXED}.")
@click.option("--seed", default=0, show_default=True, help=f"Seed of --quirks {MIXED}.")
@click.option(
    "--list-quirks",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_quirks,
    help="List the quirk profiles and exit.",
)
@click.option(
    "--auth",
    multiple=True,
    metavar="USER:PASSWORD",
    help="Require credentials for everything but OPTIONS (repeat for more users).",
)
@click.option(
    "--auth-scheme",
    type=click.Choice([s.value for s in AuthScheme]),
    default=AuthScheme.DIGEST.value,
    show_default=True,
    help="Challenges of a 401: Digest (MD5, no qop, as cameras send), Basic, or both.",
)
@click.option("--tls", is_flag=True, help="Serve RTSPS (self-signed unless --cert is given).")
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RTSPS certificate (PEM), with --key; implies --tls.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM, unencrypted).",
)
@click.option(
    "--session-timeout",
    type=click.IntRange(1, 86_400),
    default=60,
    show_default=True,
    help="Seconds a session lives without a request or an RTCP receiver report.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1, max=3600),
    default=10.0,
    show_default=True,
    help="Seconds to send a whole request (slowloris), and for a tunnel's POST leg to follow "
    "its GET leg.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.1, max=86_400),
    default=60.0,
    show_default=True,
    help="Seconds a connection without a session, or a tunnel POST leg, may stay silent "
    "(POST legs: at least the session timeout).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    help=f"Connections per RTSP port at once; more are answered 503.  "
    f"[default: {CONNECTIONS_PER_CAMERA} per camera on the port]",
)
@click.option(
    "--max-connections-per-ip",
    type=click.IntRange(1),
    help=f"Connections per RTSP port from one address.  "
    f"[default: {CONNECTIONS_PER_IP_PER_CAMERA} per camera on the port]",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines instead of a status line.")
@click.option(
    "--interval",
    type=click.FloatRange(min=MIN_INTERVAL),
    default=1.0,
    show_default=True,
    help=f"Seconds between status lines (at least {MIN_INTERVAL}).",
)
@click.option(
    "--late-after",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_LATE_AFTER * 1000,
    show_default=True,
    help="Milliseconds after its due time a burst counts as late (late_packets).",
)
@click.option(
    "--capture",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what the cameras send and receive to this pcapng file (no privileges needed).",
)
@click.option(
    "--rtp-timestamp-origin",
    "timestamp_origin",
    metavar="TICKS",
    help="First RTP timestamp of every stream instead of a random one; -N is N ticks before "
    "the 32-bit wrap (e.g. -180000: 2 s of 90 kHz video).",
)
@click.option(
    "--rtp-sequence-origin",
    "sequence_origin",
    metavar="NUMBER",
    help="First RTP sequence number of every stream instead of a random one; -N is N packets "
    "before the 16-bit wrap.",
)
@click.option(
    "--multicast",
    metavar="NETWORK",
    help="Answer SETUPs asking for multicast with a group from this IPv4 pool, e.g. "
    "239.1.2.0/24: one group per track per camera, shared by its multicast clients (default: "
    "multicast refused).",
)
@click.option(
    "--multicast-port",
    type=click.IntRange(2, 0xFFFE),
    default=DEFAULT_MULTICAST_PORT,
    show_default=True,
    help="Even RTP port of every group (RTCP on the next one).",
)
@click.option(
    "--multicast-ttl",
    type=click.IntRange(1, 255),
    default=DEFAULT_MULTICAST_TTL,
    show_default=True,
    help="TTL of multicast datagrams (1: the camera's own link only).",
)
@click.option(
    "--fault",
    "fault_name",
    type=click.Choice(network_scenarios(Role.PULL)),
    help="Play this fault scenario's network faults on a proxy in front of the cameras; "
    "the URLs printed are the proxy's.",
)
@click.option("--fault-seed", type=int, help="Seed of --fault (default: the scenario's own).")
@click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")
def run(
    cameras: int,
    host: str,
    port: int,
    layout: str,
    media: tuple[Path, ...],
    codec: str,
    audio: str,
    audio_only: bool,
    switch_size: str | None,
    quirks: str,
    seed: int,
    auth: tuple[str, ...],
    auth_scheme: str,
    tls: bool,
    cert: Path | None,
    key: Path | None,
    session_timeout: int,
    request_timeout: float,
    idle_timeout: float,
    max_connections: int | None,
    max_connections_per_ip: int | None,
    duration: float | None,
    as_json: bool,
    interval: float,
    late_after: float,
    capture: Path | None,
    timestamp_origin: str | None,
    sequence_origin: str | None,
    multicast: str | None,
    multicast_port: int,
    multicast_ttl: int,
    fault_name: str | None,
    fault_seed: int | None,
    verbose: int,
) -> None:
    """Run simulated RTSP cameras at rtsp://HOST:PORT/cam1..camN until Ctrl-C."""
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if fault_name is not None and (tls or cert is not None):
        raise click.UsageError("--fault follows the RTSP dialog, which it cannot read in TLS")
    scenario = None if fault_name is None else manual_scenario(fault_name, Role.PULL)
    limit, why = camera_limit(Layout(layout))
    if cameras > limit:
        raise click.BadParameter(f"{cameras}: at most {limit} here ({why})", param_hint="--cameras")
    try:
        config = FleetConfig(
            cameras=cameras,
            host=host,
            port=port,
            layout=Layout(layout),
            media=media,
            codec=VideoCodec(codec),
            audio=None if audio == "none" else AudioCodec(audio),
            video=not audio_only,
            switch_size=None if switch_size is None else parse_size(switch_size),
            quirks=tuple(q.strip() for q in quirks.split(",") if q.strip()),
            seed=seed,
            users=_parse_users(auth),
            auth_scheme=AuthScheme(auth_scheme),
            tls=tls or cert is not None,
            certificate=cert,
            private_key=key,
            session_timeout=session_timeout,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            max_connections=max_connections,
            max_connections_per_ip=max_connections_per_ip,
            capture=capture,
            late_after=late_after / 1000,
            rtp_origin=_rtp_origin(timestamp_origin, sequence_origin),
            multicast=None
            if multicast is None
            else MulticastConfig.parse(multicast, port=multicast_port, ttl=multicast_ttl),
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if cert is not None:
        try:  # before the sample, which may take a minute to make
            server_context(cert, key)
        except CertificateError as error:
            raise click.BadParameter(str(error), param_hint="--cert/--key") from None
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not media:
        _make_default_sample(config.default_spec())
    try:
        asyncio.run(_serve(config, duration, as_json, interval, scenario, fault_seed))
    except (LoaderError, SampleError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        last = port + cameras - 1 if Layout(layout) is Layout.PORTS and port else port
        where = f"{host} port {port}" + (f" to {last}" if last != port else "")
        raise click.ClickException(f"cannot listen on {where}: {describe_error(error)}") from None


def _rtp_origin(timestamp: str | None, sequence: str | None) -> RtpOrigin:
    """``--rtp-timestamp-origin`` and ``--rtp-sequence-origin``; BadParameter names a bad one."""
    values: list[int | None] = []
    for text, modulus, hint in (
        (timestamp, TIMESTAMP_MODULUS, "--rtp-timestamp-origin"),
        (sequence, SEQUENCE_MODULUS, "--rtp-sequence-origin"),
    ):
        try:
            values.append(None if text is None else parse_origin(text, modulus))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint=hint) from None
    return RtpOrigin(*values)


def _make_default_sample(spec: SampleSpec) -> None:
    """Make the default sample, if it is not cached yet, before the event loop starts.

    Inside ``asyncio.run`` a first Ctrl-C only cancels the main task, which cannot happen until
    the encoder returns, a minute later. Out here Ctrl-C (and SIGTERM, for the time being)
    interrupts the encoder at once; the half-made sample is removed and nothing is cached.
    """
    if (cache_dir() / f"{spec.cache_key()}.mp4").exists():
        return
    click.echo("making the default sample (once; it is cached)...", err=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        cached_sample(spec)
    except SampleError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: the default sample was not made, nothing was cached", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


async def _serve(
    config: FleetConfig,
    duration: float | None,
    as_json: bool,
    interval: float,
    scenario: FaultScenario | None = None,
    fault_seed: int | None = None,
) -> None:
    fleet = CameraFleet(config)
    await fleet.start()
    # The scenario's timeline starts when its proxies are up, as a resilience run's does.
    faults = None if scenario is None else ScenarioProxies(scenario, fault_seed)
    urls = fleet.urls() if faults is None else await faults.front(fleet.urls())
    # The samples and plans live as long as the process: keep the collector from rescanning them.
    gc.collect()
    gc.freeze()
    meter = StatusMeter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    live = sys.stdout.isatty() and not as_json
    try:
        _announce(fleet, as_json, urls)
        deadline = None if duration is None else loop.time() + duration
        while not stop.is_set():
            wait = interval if deadline is None else min(interval, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait, 0))
            status = fleet.status()
            if as_json:
                click.echo(meter.json(status))
            elif live:
                click.echo("\r" + meter.line(status) + "\033[K", nl=False)
            else:
                click.echo(meter.line(status))
            if deadline is not None and loop.time() >= deadline:
                break
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        final = fleet.status()
        if faults is not None:
            await faults.close()
        await fleet.close()
        if live:
            click.echo()
        click.echo(meter.json(final, "stopped") if as_json else f"stopped: {meter.line(final)}")


def _announce(fleet: CameraFleet, as_json: bool, urls: list[str]) -> None:
    if as_json:
        quirks = {c.name: list(c.quirks.names) for c in fleet.cameras if c.quirks}
        click.echo(json.dumps({"event": "started", "urls": urls, "quirks": quirks}))
        return
    for camera, url in zip(fleet.cameras, urls, strict=True):
        suffix = f"  quirks: {', '.join(camera.quirks.names)}" if camera.quirks else ""
        click.echo(f"{url}{suffix}")
    click.echo(f"{len(urls)} cameras ready; Ctrl-C to stop", err=True)
