"""``camsim fault netns``: a namespace topology with kernel faults, for manual tests.

::

    camsim fault netns --nat --forward 554 --set loss=5% \\
        --lan "camsim run --host 198.18.0.2 --port 554" \\
        --wan "ffmpeg -rtsp_transport udp -i rtsp://198.19.0.1:554/cam1 -f null -"

builds the topology (see :mod:`camsim.fault.netns`), puts the faults in force on its router,
starts the commands given in the LAN and WAN namespaces, and runs until Ctrl-C, SIGTERM,
``--duration`` or the end of every command; then it tears everything down. With ``--control
HOST:PORT`` (loopback only) the faults change while it runs: ``POST /faults`` with a JSON object
of settings, ``GET /faults`` for the configuration and every change with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal
import sys
import time
from typing import Any

import click
from aiohttp import web

from camsim.fault.control import require_loopback
from camsim.fault.kernel import KernelFaults, NetemUnavailable
from camsim.fault.netns import NetnsError, Role, Topology, unavailable_reason

Address = tuple[str, int]


def _address(text: str) -> Address:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def faults_state(topology: Topology) -> dict[str, Any]:
    faults = topology.faults
    return {
        "namespaces": topology.names,
        "addresses": {
            "lan": topology.lan_address,
            "router_lan": topology.router_lan_address,
            "router_wan": topology.router_wan_address,
            "wan": topology.wan_address,
        },
        "netem": faults.netem,
        "loss_method": faults.loss_method.value if faults.loss_method else None,
        "config": faults.config.to_json(),
        "history": [change.to_json() for change in faults.history],
    }


def control_app(topology: Topology) -> web.Application:
    """``GET /faults``, ``POST /faults`` (settings as JSON), ``POST /faults/reset``."""

    async def get(request: web.Request) -> web.Response:
        return web.json_response(faults_state(topology))

    async def post(request: web.Request) -> web.Response:
        try:
            settings = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return web.json_response({"error": f"the body is not JSON: {error}"}, status=400)
        if not isinstance(settings, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        try:
            await asyncio.to_thread(topology.faults.change, **settings)
        except (ValueError, TypeError, NetemUnavailable) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(faults_state(topology))

    async def reset(request: web.Request) -> web.Response:
        await asyncio.to_thread(topology.faults.reset)
        return web.json_response(faults_state(topology))

    app = web.Application()
    app.router.add_get("/faults", get)
    app.router.add_post("/faults", post)
    app.router.add_post("/faults/reset", reset)
    return app


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="NAME=VALUE",
    help="A kernel fault by name, e.g. loss=5%, up_rate=2M, rtsp_blocked=reject.",
)
@click.option("--nat", is_flag=True, help="MASQUERADE the LAN behind the router's WAN address.")
@click.option(
    "--forward",
    "forward",
    multiple=True,
    type=int,
    metavar="PORT",
    help="With --nat: forward this TCP and UDP port to the LAN host (repeatable).",
)
@click.option("--lan", "lan_command", help="Command to run in the LAN namespace.")
@click.option("--wan", "wan_command", help="Command to run in the WAN namespace.")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds."
)
@click.option(
    "--control",
    type=str,
    metavar="HOST:PORT",
    help="Serve the control endpoint on this loopback address.",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
def netns_command(
    extra: tuple[str, ...],
    nat: bool,
    forward: tuple[int, ...],
    lan_command: str | None,
    wan_command: str | None,
    duration: float | None,
    control: str | None,
    as_json: bool,
) -> None:
    """Run commands on either side of a router with kernel faults (root only).

    \b
    LAN 198.18.0.2 -- 198.18.0.1 router 198.19.0.1 -- 198.19.0.2 WAN; no route leaves
    198.18.0.0/15. Settings (each way, or one way with up_ for LAN to WAN, down_ back):
      loss burst rate delay jitter reorder (delay, jitter, reorder need sch_netem)
    router: rtsp_blocked=drop|reject rtsp_port udp_blocked nat nat_timeout forward
    """  # fmt: skip
    reason = unavailable_reason()
    if reason is not None:
        raise click.ClickException(reason)
    settings: dict[str, Any] = {}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        settings[name.strip()] = value.strip()
    if nat:
        settings["nat"] = True
    if forward:
        settings["forward"] = tuple(forward)
    control_address = None
    if control is not None:
        control_address = _address(control)
        try:
            require_loopback(control_address[0], "--control")
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    commands: dict[Role, list[str]] = {}
    if lan_command:
        commands["lan"] = shlex.split(lan_command)
    if wan_command:
        commands["wan"] = shlex.split(wan_command)
    try:
        asyncio.run(_run(settings, commands, duration, control_address, as_json))
    except (NetnsError, NetemUnavailable, ValueError) as error:
        raise click.ClickException(str(error)) from None


async def _run(
    settings: dict[str, Any],
    commands: dict[Role, list[str]],
    duration: float | None,
    control: Address | None,
    as_json: bool,
) -> None:
    async with Topology() as topology:
        faults: KernelFaults = topology.faults
        if settings:
            await asyncio.to_thread(faults.change, **settings)
        runner = None
        if control is not None:
            runner = web.AppRunner(control_app(topology), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, *control).start()
        _say(as_json, "up", faults_state(topology))
        processes = [await topology.start(role, argv) for role, argv in commands.items()]
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        deadline = None if duration is None else loop.time() + duration
        seen = len(faults.history)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                for change in faults.history[seen:]:
                    _say(as_json, "changed", change.to_json())
                seen = len(faults.history)
                if deadline is not None and loop.time() >= deadline:
                    break
                if processes and all(p.returncode is not None for p in processes):
                    break
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            if runner is not None:
                await runner.cleanup()
            statuses = {role: p.returncode for role, p in zip(commands, processes, strict=True)}
            _say(as_json, "down", {"exit": statuses})


def _say(as_json: bool, event: str, record: dict[str, Any]) -> None:
    if as_json:
        print(json.dumps({"event": event, "time": time.time(), **record}), flush=True)
    elif event == "up":
        names = ", ".join(record["namespaces"].values())
        print(f"topology up: {names}; faults {record['config']}", file=sys.stderr, flush=True)
    else:
        print(f"{event}: {record}", file=sys.stderr, flush=True)
