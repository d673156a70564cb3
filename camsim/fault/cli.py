"""``camsim fault``: put faults between a client and a server.

``camsim fault proxy --listen HOST:PORT --upstream HOST:PORT [impairments]`` relays TCP, UDP,
both, or RTSP with its RTP/RTCP, through the impairments given, until Ctrl-C or SIGTERM. With
``--control HOST:PORT`` the faults can be changed while it runs (``POST /faults`` with a JSON
object of settings, ``GET /faults`` for the configuration and every change with its time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import click

from camsim.fault.cleanup import cleanup_command
from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.control import FaultProxy, ProxyProtocol, require_loopback
from camsim.fault.netns_cli import netns_command

Address = tuple[str, int]


def _address(text: str) -> Address:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 0xFFFF:
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class _AddressType(click.ParamType[Address]):
    name = "HOST:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            return _address(value)
        except click.BadParameter as error:
            self.fail(error.message, param, ctx)


ADDRESS = _AddressType()

# Option name → (setting name, help). Every setting also has --set NAME=VALUE, which is how the
# per-direction ones (up_delay, down_rate...) are given.
_OPTIONS: dict[str, tuple[str, str]] = {
    "--loss": ("loss", "Datagram loss, uniform (5% or 0.05)."),
    "--burst": ("burst", "Gilbert-Elliott burst loss as p,r[,h[,k]] (e.g. 1%,25%)."),
    "--delay": ("delay", "Added latency each way (e.g. 50ms)."),
    "--jitter": ("jitter", "Uniform jitter around the delay each way (e.g. 10ms)."),
    "--reorder": ("reorder", "Probability a datagram is held back and overtaken."),
    "--duplicate": ("duplicate", "Probability a datagram is sent twice."),
    "--corrupt": ("corrupt", "Probability one bit of a datagram is flipped."),
    "--rate": ("rate", "Bandwidth limit each way in bits/s (e.g. 2M)."),
    "--slice-size": ("slice_size", "TCP: forward in writes of at most this many bytes."),
    "--slice-interval": ("slice_interval", "TCP: pause between two slices (e.g. 5ms)."),
    "--reset-after-bytes": ("reset_after_bytes", "TCP: reset a connection after N bytes."),
    "--reset-after-seconds": ("reset_after_seconds", "TCP: reset a connection after T."),
    "--half-close-after": ("half_close_after", "TCP: send the client a FIN after T."),
    "--nat": ("nat", "UDP NAT behaviour for RTSP media: cone or symmetric."),
    "--nat-timeout": ("nat_timeout", "UDP: mappings expire after this idle time."),
}
_FLAGS: dict[str, tuple[str, str]] = {
    "--stall": ("stall", "TCP: keep connections open but pass no byte (blackhole)."),
    "--refuse": ("refuse", "TCP: refuse every connection (nothing listens)."),
    "--udp-blocked": ("udp_blocked", "UDP: drop every datagram both ways."),
}


def _setting_options(function: Any) -> Any:
    for flag, (name, text) in reversed(_FLAGS.items()):
        function = click.option(flag, name, is_flag=True, default=None, help=text)(function)
    for option, (name, text) in reversed(_OPTIONS.items()):
        function = click.option(option, name, metavar="VALUE", help=text)(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def fault() -> None:
    """Inject network faults between a client and a server (loss, latency, NAT, resets)."""


fault.add_command(cleanup_command, "cleanup")
fault.add_command(netns_command, "netns")


@fault.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--listen", type=ADDRESS, required=True, help="Address clients connect to.")
@click.option("--upstream", type=ADDRESS, required=True, help="The server relayed to.")
@click.option(
    "--protocol",
    type=click.Choice([p.value for p in ProxyProtocol]),
    default=ProxyProtocol.TCP.value,
    show_default=True,
    help="What to relay; rtsp also relays the RTP/RTCP its SETUPs open.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option(
    "--control", type=ADDRESS, help="Serve the control endpoint on this loopback address."
)
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any setting by name, e.g. down_delay=50ms or up_loss=2% (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@_setting_options
def proxy(
    listen: Address,
    upstream: Address,
    protocol: str,
    seed: int,
    control: Address | None,
    extra: tuple[str, ...],
    as_json: bool,
    **options: Any,
) -> None:
    """Relay --listen to --upstream through the faults given, until Ctrl-C.

    \b
    Settings by name (for --set and the control endpoint's JSON):
      each way, or one way with up_ (client to server) or down_ (server to client):
        loss burst delay jitter reorder reorder_hold duplicate corrupt rate
        burst_bytes queue_limit blocked
      whole proxy:
        slice_size slice_interval stall reset_after_bytes reset_after_seconds
        half_close_after refuse udp_blocked nat nat_timeout
    TCP takes only delay, jitter and rate of the per-way settings.
    """
    settings: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        settings[name.strip()] = value.strip()
    try:
        parsed = parse_settings(settings)
        # What the proxy exposes stays on this machine; the upstream may be any server.
        require_loopback(listen[0], "--listen")
        if control is not None:
            require_loopback(control[0], "--control")
        config = FaultConfig().changed(**parsed)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        asyncio.run(_serve(listen, upstream, config, protocol, seed, control, as_json))
    except OSError as error:
        raise click.ClickException(f"cannot listen: {error.strerror or error}") from None


async def _serve(
    listen: Address,
    upstream: Address,
    config: FaultConfig,
    protocol: str,
    seed: int,
    control: Address | None,
    as_json: bool,
) -> None:
    relay = FaultProxy(listen, upstream, config, protocol=protocol, seed=seed)
    await relay.start()
    where = None
    if control is not None:
        where = await relay.serve_control(*control)
    _say(as_json, "listening", relay, where)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    seen = 0
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            for change in relay.history[seen:]:
                _say(as_json, "changed", relay, where, change.settings)
            seen = len(relay.history)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await relay.stop_control()
        relay.close()


def _say(
    as_json: bool,
    event: str,
    relay: FaultProxy,
    control: Address | None,
    settings: dict[str, Any] | None = None,
) -> None:
    host, port = relay.address
    if as_json:
        record: dict[str, Any] = {"event": event, "time": time.time(), "listen": f"{host}:{port}"}
        if control is not None:
            record["control"] = f"{control[0]}:{control[1]}"
        if settings is not None:
            record["settings"] = settings
        print(json.dumps(record), flush=True)
        return
    if event == "listening":
        up_host, up_port = relay.upstream
        line = f"fault proxy ({relay.protocol}) on {host}:{port} -> {up_host}:{up_port}"
        if control is not None:
            line += f", control on http://{control[0]}:{control[1]}/faults"
        print(line, file=sys.stderr, flush=True)
    else:
        print(f"faults changed: {settings}", file=sys.stderr, flush=True)
