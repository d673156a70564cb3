"""``camsim run``: a fleet of simulated RTSP cameras."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys
import textwrap
from pathlib import Path

import click

from camsim.camera.fleet import AuthScheme, Fleet, FleetConfig, Layout
from camsim.camera.quirks import MIXED, REGISTRY
from camsim.camera.status import StatusMeter
from camsim.media.loader import LoaderError
from camsim.media.make import cache_dir
from camsim.media.spec import DEFAULT_SPEC
from wire.codec.nal import VideoCodec


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


def _parse_users(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    users = []
    for value in values:
        user, colon, password = value.partition(":")
        if not colon or not user:
            raise click.BadParameter(f"{value!r}: expected USER:PASSWORD", param_hint="--auth")
        users.append((user, password))
    return tuple(users)


@click.command("run")
@click.option("-n", "--cameras", default=1, show_default=True, help="Number of cameras.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8554, show_default=True, help="RTSP port (the first one with --layout ports)."
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
@click.option("--auth", multiple=True, metavar="USER:PASSWORD", help="Require credentials.")
@click.option(
    "--auth-scheme",
    type=click.Choice([s.value for s in AuthScheme]),
    default=AuthScheme.DIGEST.value,
    show_default=True,
)
@click.option("--tls", is_flag=True, help="Serve RTSPS (self-signed unless --cert is given).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--session-timeout", default=60, show_default=True, help="Seconds.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines instead of a status line.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between status lines.")
@click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")
def run(
    cameras: int,
    host: str,
    port: int,
    layout: str,
    media: tuple[Path, ...],
    codec: str,
    quirks: str,
    seed: int,
    auth: tuple[str, ...],
    auth_scheme: str,
    tls: bool,
    cert: Path | None,
    key: Path | None,
    session_timeout: int,
    duration: float | None,
    as_json: bool,
    interval: float,
    verbose: int,
) -> None:
    """Run simulated RTSP cameras at rtsp://HOST:PORT/cam1..camN until Ctrl-C."""
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    try:
        config = FleetConfig(
            cameras=cameras,
            host=host,
            port=port,
            layout=Layout(layout),
            media=media,
            codec=VideoCodec(codec),
            quirks=tuple(q.strip() for q in quirks.split(",") if q.strip()),
            seed=seed,
            users=_parse_users(auth),
            auth_scheme=AuthScheme(auth_scheme),
            tls=tls or cert is not None,
            certificate=cert,
            private_key=key,
            session_timeout=session_timeout,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not media:
        spec = DEFAULT_SPEC.with_changes(codec=config.codec)
        if not (cache_dir() / f"{spec.cache_key()}.mp4").exists():
            click.echo("making the default sample (once; it is cached)...", err=True)
    try:
        asyncio.run(_serve(config, duration, as_json, interval))
    except (OSError, LoaderError, ValueError) as error:
        raise click.ClickException(str(error)) from None


async def _serve(
    config: FleetConfig, duration: float | None, as_json: bool, interval: float
) -> None:
    fleet = Fleet(config)
    await fleet.start()
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
        _announce(fleet, as_json)
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
        await fleet.close()
        if live:
            click.echo()
        click.echo(meter.json(final, "stopped") if as_json else f"stopped: {meter.line(final)}")


def _announce(fleet: Fleet, as_json: bool) -> None:
    urls = fleet.urls()
    if as_json:
        quirks = {c.name: list(c.quirks.names) for c in fleet.cameras if c.quirks}
        click.echo(json.dumps({"event": "started", "urls": urls, "quirks": quirks}))
        return
    for camera, url in zip(fleet.cameras, urls, strict=True):
        suffix = f"  quirks: {', '.join(camera.quirks.names)}" if camera.quirks else ""
        click.echo(f"{url}{suffix}")
    click.echo(f"{len(urls)} cameras ready; Ctrl-C to stop", err=True)
