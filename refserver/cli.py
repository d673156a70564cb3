"""The ``refserver`` command line: flags over a TOML config over the defaults."""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from refserver import logs
from refserver.config import (
    DEFAULT_PULL_TRANSPORT,
    LOG_FORMATS,
    LOG_LEVELS,
    PULL_TRANSPORTS,
    ConfigError,
    Limits,
    ServerConfig,
    SourceConfig,
    load_config,
    parse_stream_key,
)
from refserver.hls import HlsOptions
from refserver.hls.writer import SEGMENT_FORMATS
from refserver.http import HttpOptions
from refserver.server import ReferenceServer
from refserver.tls import CertificateError
from wire.asyncio.loops import DEFAULT_LOOP, LOOP_CHOICES, LOOP_ENV, LoopUnavailable, resolve

logger = logging.getLogger("refserver")

PORT = click.IntRange(0, 65535)
OptionsT = TypeVar("OptionsT", HlsOptions, Limits, HttpOptions)


@click.command(context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camsim")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with any of the settings below; flags win over it.",
)
@click.option("--bind", help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--rtmp-port", type=PORT, help="RTMP port; 0 picks a free one.  [default: 1935]")
@click.option("--rtmps-port", type=PORT, help="RTMPS port.  [default: 1936]")
@click.option("--http-port", type=PORT, help="HTTP port (HLS, index, API).  [default: 8080]")
@click.option("--no-rtmps", is_flag=True, help="Do not listen for RTMPS.")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="RTMPS certificate (PEM); without it a self-signed one is generated and kept.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@click.option("--app", help="RTMP application name publishers use.  [default: live]")
@click.option(
    "--hls-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where segments and playlists go; a temporary folder removed at exit otherwise.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the generated certificate is kept; the user's data folder otherwise.",
)
@click.option(
    "--stream-key",
    "stream_keys",
    multiple=True,
    metavar="NAME=KEY",
    help="Only publishes of NAME?key=KEY are accepted; '*=KEY' for any name. Repeatable.",
)
@click.option(
    "--pull",
    "pulls",
    multiple=True,
    metavar="[NAME=]URL",
    help="Pull an RTSP camera as stream NAME (default: the URL's last path segment). Repeatable.",
)
@click.option(
    "--pull-transport",
    type=click.Choice(PULL_TRANSPORTS),
    help="How --pull cameras send RTP: auto (UDP, else TCP), tcp (interleaved), udp, http "
    "(RTSP tunnelled in HTTP), or multicast (the group the camera names; never tried by auto).  "
    "[default: auto]",
)
@click.option(
    "--pull-alternative-port",
    "pull_alternative_ports",
    multiple=True,
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="Another RTSP port of the --pull cameras, tried in order when the URL's port does not "
    "answer. Repeatable.",
)
@click.option(
    "--pull-tunnel-port",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="The --pull cameras' RTSP-over-HTTP port: tried by auto after every RTSP port, and "
    "where http connects.  [default: the URL's port, for http only]",
)
@click.option(
    "--pull-on-demand",
    is_flag=True,
    help="Connect --pull cameras only while viewers ask for their streams; the waits are "
    "set in the config file.",
)
@click.option(
    "--no-transcode-audio",
    is_flag=True,
    help="Leave pulled cameras' G.711 and Opus audio out instead of transcoding it to AAC.",
)
@click.option(
    "--target-duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds of media per HLS segment (cut at the next keyframe).  [default: 2.0]",
)
@click.option("--window", type=click.IntRange(1), help="Segments in the live playlist.")
@click.option(
    "--segment-format",
    type=click.Choice(sorted(SEGMENT_FORMATS)),
    help="HLS segments: MPEG-TS, or fragmented MP4 (CMAF).  [default: mpegts]",
)
@click.option(
    "--hls-expire-after",
    type=click.FloatRange(min=0),
    help="Seconds after its last write that a gone stream's folder is removed; 0 keeps them.  "
    "[default: 3600]",
)
@click.option(
    "--merge-reads",
    is_flag=True,
    help="Read publishers in fewer, larger pieces: about a third less CPU, up to ~40 ms more "
    "latency with senders that use Nagle's algorithm (FFmpeg does).",
)
@click.option("--max-connections", type=click.IntRange(1), help="TLS handshakes included.")
@click.option(
    "--max-connections-per-ip",
    type=click.IntRange(1),
    help="Connections from one address (IPv6: one /64).  [default: 32]",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds of silence after which an RTMP connection is dropped.  [default: 20.0]",
)
@click.option(
    "--http-max-connections",
    type=click.IntRange(1),
    help="HTTP connections at most (fewer if the file descriptor limit is too low).  "
    "[default: 1000]",
)
@click.option(
    "--http-max-connections-per-ip",
    type=click.IntRange(1),
    help="HTTP connections from one IPv4 address or IPv6 /64.  [default: 64]",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let scripts on ORIGIN (https://host[:port], or '*' for any) read the JSON API. "
    "Repeatable.",
)
@click.option(
    "--api-sources",
    is_flag=True,
    help="Serve /api/sources, which adds and removes pull sources while the server runs "
    "(loopback clients only).",
)
@click.option(
    "--expose-addresses",
    is_flag=True,
    help="Show publishers' IP:port in the JSON API and on the index page.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    help="Log lines as text, or one JSON object per line.  [default: text]",
)
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS), help="Least severe level logged.  [default: info]"
)
@click.option(
    "--capture",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the publishers' connections to this pcapng file (no privileges needed).",
)
@click.option(
    "--loop",
    "loop_choice",
    type=click.Choice(LOOP_CHOICES),
    default=DEFAULT_LOOP,
    envvar=LOOP_ENV,
    show_envvar=True,
    help="Event loop: uvloop (pip install 'camsim[fast]'), asyncio's own, or auto (uvloop when "
    "installed).",
)
def main(
    config_path: Path | None,
    no_rtmps: bool,
    stream_keys: tuple[str, ...],
    pulls: tuple[str, ...],
    pull_transport: str | None,
    pull_alternative_ports: tuple[int, ...],
    pull_tunnel_port: int | None,
    pull_on_demand: bool,
    no_transcode_audio: bool,
    target_duration: float | None,
    window: int | None,
    segment_format: str | None,
    merge_reads: bool,
    max_connections: int | None,
    max_connections_per_ip: int | None,
    idle_timeout: float | None,
    http_max_connections: int | None,
    http_max_connections_per_ip: int | None,
    cors_origins: tuple[str, ...],
    expose_addresses: bool,
    api_sources: bool,
    loop_choice: str,
    **flags: object,
) -> None:
    """The reference server: RTMP/RTMPS ingest to HLS, served over HTTP.

    With no arguments: RTMP on 127.0.0.1:1935, RTMPS on :1936 and HTTP on :8080. Publish to
    rtmp://127.0.0.1:1935/live/NAME and play http://127.0.0.1:8080/live/NAME/index.m3u8, or
    open http://127.0.0.1:8080/ for every live stream. Ctrl-C finishes the open segments and
    playlists, then exits.

    A stream whose publisher leaves waits offline_timeout seconds (300; [limits] in the config
    file) for a republish, which continues its playlist after a discontinuity; then it ends
    with EXT-X-ENDLIST.
    """
    try:
        config = load_config(config_path) if config_path is not None else ServerConfig()
        if merge_reads:
            flags["merge_reads"] = True
        if stream_keys:
            flags["stream_keys"] = dict(parse_stream_key(text) for text in stream_keys)
        if pulls:
            transport = pull_transport or DEFAULT_PULL_TRANSPORT
            flags["sources"] = config.sources + tuple(
                SourceConfig.from_text(
                    text,
                    transport=transport,
                    on_demand=pull_on_demand,
                    alternative_ports=pull_alternative_ports,
                    tunnel_port=pull_tunnel_port,
                )
                for text in pulls
            )
        elif pull_transport is not None or pull_on_demand:
            raise ConfigError("--pull-transport and --pull-on-demand apply to --pull cameras")
        elif pull_alternative_ports or pull_tunnel_port is not None:
            raise ConfigError(
                "--pull-alternative-port and --pull-tunnel-port apply to --pull cameras"
            )
        if no_transcode_audio:
            sources = flags.get("sources", config.sources)
            assert isinstance(sources, tuple)
            flags["sources"] = tuple(replace(s, transcode_audio=False) for s in sources)
        config = config.with_changes(
            hls=_with(
                config.hls,
                target_duration=target_duration,
                window=window,
                segment_format=segment_format,
            ),
            limits=_with(
                config.limits,
                max_connections=max_connections,
                max_connections_per_ip=max_connections_per_ip,
                idle_timeout=idle_timeout,
            ),
            http=_with(
                config.http,
                max_connections=http_max_connections,
                max_connections_per_ip=http_max_connections_per_ip,
                api_cors_origins=cors_origins or None,
                expose_addresses=expose_addresses or None,
                sources_api=api_sources or None,
            ),
            **flags,
        )
        if no_rtmps:
            config = replace(config, rtmps_port=None)
        loop = resolve(loop_choice)
    except (ConfigError, ValueError, LoopUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    logs.configure(config.log_format, config.log_level)
    logger.info("event loop", extra={"loop": loop.name, "version": loop.version})
    try:
        with asyncio.Runner(loop_factory=loop.factory) as runner:
            runner.run(_serve(config))
    except CertificateError as exc:
        raise click.ClickException(f"RTMPS: {exc}") from None
    except OSError as exc:
        raise click.ClickException(listen_error(exc)) from None


_LISTEN_ERRORS = {
    errno.EADDRINUSE: "address already in use (another server on that port?)",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's",
}
_BIND_ADDRESS = re.compile(r"address \('?([^',]*)'?, (\d+)")


def listen_error(exc: OSError) -> str:
    """A listener that could not be opened, in plain words: the address and port asyncio names,
    and why, without errno numbers."""
    text = exc.strerror or str(exc)
    where = _BIND_ADDRESS.search(text)
    place = f" on {where[1]} port {where[2]}" if where else ""
    why = _LISTEN_ERRORS.get(exc.errno) if isinstance(exc.errno, int) else None
    if why is None:
        why = text.rsplit(": ", 1)[-1] if where else text
    return f"cannot listen{place}: {why}"


def _with(options: OptionsT, **changes: Any) -> OptionsT:
    """``options`` with the flags that were given."""
    return replace(options, **{k: v for k, v in changes.items() if v is not None})


async def _serve(config: ServerConfig) -> None:
    server = ReferenceServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await stop.wait()
        logger.info("shutting down")
    finally:
        await server.stop()
