"""The running part of ``camsim pcap replay``: event loop, signals, status lines."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from camsim.pcap.replay_camera import load_camera, start_camera
from camsim.pcap.replay_raw import loopback_target

if TYPE_CHECKING:
    from camsim.fault.config import FaultConfig
    from camsim.pcap.replay_camera import CameraReplay
    from camsim.pcap.replay_fault import ProxiedCamera


def fault_options(items: Sequence[str], seed: int | None) -> tuple[FaultConfig | None, int]:
    """``--fault`` and ``--fault-seed`` read as the fault proxy reads its settings; a bad one
    is a usage error (exit 2) that names it."""
    if not items:
        if seed is not None:
            raise click.BadParameter("needs at least one --fault", param_hint="--fault-seed")
        return None, 0
    from camsim.pcap.replay_fault import parse_faults

    try:
        return parse_faults(items), seed or 0
    except (ValueError, TypeError) as error:
        raise click.BadParameter(str(error), param_hint="--fault") from None


def camera(
    file: Path,
    host: str,
    port: int,
    speed: float,
    loop_media: bool,
    dialog: str,
    select: int | None,
    duration: float | None,
    faults: FaultConfig | None = None,
    fault_seed: int = 0,
) -> None:
    captured = load_camera(file, dialog_index=select, speed=speed)
    streams = ", ".join(
        f"{s.media.media} {s.media.codec} ({s.packets} packets)" for s in captured.streams
    )
    click.echo(
        f"{file}: dialog {captured.dialog.index}, {streams}, "
        f"{captured.plan.period_seconds:.1f} s{' looped' if loop_media else ''}",
        err=True,
    )

    async def serve() -> None:
        if faults is not None:
            from camsim.pcap.replay_fault import start_camera_behind_proxy

            replay: CameraReplay | ProxiedCamera = await start_camera_behind_proxy(
                captured,
                faults,
                seed=fault_seed,
                host=host,
                port=port,
                loop_media=loop_media,
                dialog=dialog,
            )
            _say_faults("rtsp", faults, fault_seed)
        else:
            replay = await start_camera(
                captured, host=host, port=port, loop_media=loop_media, dialog=dialog
            )
        click.echo(replay.url)
        try:
            await _until_stopped(duration)
        finally:
            await replay.close()

    asyncio.run(serve())


def _say_faults(protocol: str, faults: FaultConfig, seed: int) -> None:
    from camsim.pcap.replay_fault import describe

    click.echo(f"through the fault proxy ({protocol}): {describe(faults)}, seed {seed}", err=True)


async def _until_stopped(duration: float | None) -> None:
    """Wait for Ctrl-C, SIGTERM or ``duration`` seconds."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)


def push(
    file: Path,
    url: str,
    speed: float,
    loop_media: bool,
    select: int | None,
    duration: float | None,
    insecure: bool = False,
    faults: FaultConfig | None = None,
    fault_seed: int = 0,
) -> None:
    from camsim.encoder.cli import tls_context
    from camsim.encoder.fleet import EncoderFleet
    from camsim.encoder.session import PublishOptions
    from camsim.encoder.stats import StreamState, StreamStats
    from camsim.encoder.target import PushTarget
    from camsim.pcap.replay_push import load_plan, one_pass, sent_once

    target = PushTarget.parse(url)
    loopback_target(f"{target.host}:{target.port}")
    plan, origin = load_plan(file, select=select, speed=speed)
    seconds = float(plan.period)
    click.echo(f"{file}: {origin}, {len(plan.frames)} frames, {seconds:.1f} s -> {url}", err=True)
    if not loop_media:
        # One pass: stopped once every frame went out, whatever connecting took.
        plan = one_pass(plan)
    context = tls_context(None, insecure) if target.tls else None
    options = PublishOptions(ssl_context=context)

    async def publish(to: PushTarget) -> list[StreamStats]:
        fleet = EncoderFleet([to], plan, options)
        stopping = False

        def on_status(streams: Sequence[StreamStats]) -> None:
            nonlocal stopping
            (current,) = streams
            if loop_media or stopping:
                return
            if sent_once(plan, current.video_frames, current.audio_frames):
                stopping = True
                fleet.stop()

        return await fleet.run(duration, on_status=on_status, status_interval=0.05)

    async def run() -> list[StreamStats]:
        if faults is None:
            return await publish(target)
        from camsim.pcap.replay_fault import datagram_only, running_proxy, through_proxy

        ignored = datagram_only(faults)
        if ignored:
            click.echo(f"a push is TCP: {', '.join(ignored)} apply to datagrams only", err=True)
        upstream = (target.host, target.port)
        async with running_proxy(upstream, faults, protocol="tcp", seed=fault_seed) as proxy:
            _say_faults("tcp", faults, fault_seed)
            return await publish(through_proxy(target, proxy))

    (stats,) = asyncio.run(run())
    click.echo(
        f"{stats.state.value}: {stats.video_frames} video and {stats.audio_frames} audio frames, "
        f"{stats.bytes_sent} bytes" + (f", {stats.error}" if stats.error else "")
    )
    if stats.state is StreamState.FAILED:
        raise click.ClickException(stats.error or "the publish failed")


def raw(
    file: Path,
    to: str,
    speed: float,
    loop_media: bool,
    duration: float | None,
    faults: FaultConfig | None = None,
    fault_seed: int = 0,
) -> None:
    from camsim.pcap.replay_raw import load_datagrams, send

    host, port = loopback_target(to)
    datagrams = load_datagrams(file, speed=speed)
    click.echo(f"{file}: {len(datagrams)} datagrams -> {host}:{port}", err=True)
    if faults is None:
        sent = asyncio.run(send(datagrams, host, port, loop_media=loop_media, duration=duration))
        click.echo(f"sent {sent} datagrams")
        return
    from camsim.pcap.replay_fault import send_through_proxies

    _say_faults("udp", faults, fault_seed)
    result = asyncio.run(
        send_through_proxies(
            datagrams,
            host,
            port,
            faults,
            seed=fault_seed,
            loop_media=loop_media,
            duration=duration,
        )
    )
    click.echo(f"sent {sum(result.sent.values())} datagrams, {result.lost} lost in the fault proxy")
