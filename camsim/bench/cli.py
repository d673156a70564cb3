"""``camsim bench rtmp-vs-rtmps``: RTMP and RTMPS side by side, on any server, under profiles."""

from __future__ import annotations

import asyncio
import json
import platform
import ssl
import statistics
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import click

from camsim.bench.hls import RELOAD_INTERVAL
from camsim.bench.kernel import KernelSide, kernel_refusal
from camsim.bench.profiles import PROFILES, profile_named
from camsim.bench.progress import StatusLine
from camsim.bench.report import build_report, write_report
from camsim.bench.runner import SETTLE, Bench, BenchSettings, ProfileResult, Progress, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.bench.stats import median_difference
from camsim.bench.verdict import ProfileVerdict, judge
from camsim.encoder.cli import load_plan
from camsim.encoder.session import DEFAULT_TIMEOUT, PublishOptions
from camsim.encoder.target import PushTarget, TargetError, expand
from camsim.fault.netns import NetnsError

CONTEXT = {"help_option_names": ["-h", "--help"]}


MAX_STREAMS = 200


class StreamCounts(click.ParamType[tuple[int, ...]]):
    """``--streams``: one count or a comma-separated list of them, each 1..:data:`MAX_STREAMS`;
    the counts come back smallest first, each once."""

    name = "N[,N...]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        counts = set()
        for part in str(value).split(","):
            try:
                count = int(part.strip())
            except ValueError:
                self.fail(f"{part.strip()!r} is not a stream count", param, ctx)
            if not 1 <= count <= MAX_STREAMS:
                self.fail(f"{count} is not in 1..{MAX_STREAMS}", param, ctx)
            counts.add(count)
        return tuple(sorted(counts))


@click.group(context_settings=CONTEXT)
def bench() -> None:
    """Benchmarks of live ingest."""


def _check_url(scheme: str, value: str | None, hint: str) -> None:
    if value is None:
        return
    try:
        target = PushTarget.parse(expand(value, 1))
    except TargetError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
    if target.tls != (scheme == "rtmps"):
        raise click.BadParameter(f"{value}: expected an {scheme}:// URL", param_hint=hint)


@bench.command("rtmp-vs-rtmps", context_settings=CONTEXT)
@click.option(
    "--rtmp", "rtmp_url", help="RTMP URL, {n} numbers streams (default: a local refserver)."
)
@click.option(
    "--rtmps", "rtmps_url", help="RTMPS URL of the same server (default: a local refserver)."
)
@click.option(
    "--streams",
    type=StreamCounts(),
    default="1",
    show_default=True,
    help="Streams per window; a list (1,5,10) runs the windows at every count.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=5.0,
    show_default=True,
    help="Measured seconds per streaming window.",
)
@click.option(
    "--repeat",
    type=click.IntRange(3, 100),
    default=5,
    show_default=True,
    help="Kept rounds per profile (set-up trials and windows per protocol).",
)
@click.option(
    "--warmup",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="Rounds run first and dropped.",
)
@click.option(
    "--network",
    "networks",
    multiple=True,
    type=click.Choice(sorted(PROFILES)),
    help="Network profile (repeatable; default loopback).",
)
@click.option("--tls-version", type=click.Choice(["1.2", "1.3"]), help="Pin the TLS version.")
@click.option(
    "--cipher", help="OpenSSL cipher list for TLS 1.2 (e.g. ECDHE-RSA-AES128-GCM-SHA256)."
)
@click.option("--api", "api_url", help="refserver-style .../api/streams/ for per-frame latency.")
@click.option(
    "--server-pid",
    "server_pids",
    multiple=True,
    type=int,
    help="A local server process whose tree's CPU is measured (repeatable).",
)
@click.option(
    "--media",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sample to publish (the default sample otherwise).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds allowed for each phase.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap and the relays."
)
@click.option(
    "--playback/--no-playback",
    default=True,
    show_default=True,
    help="Without --api, read per-frame latency by playing each stream back over RTMP.",
)
@click.option(
    "--hls",
    "hls_url",
    metavar="TEMPLATE",
    help="Read per-frame latency from the server's HLS, e.g. "
    "http://host:port/live/{name}/index.m3u8 ({name}: each stream's name), or its path alone "
    "(/live/{name}/index.m3u8) on the local refserver; wins over --api and play-back.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Also time RTMPS's TLS set-up on reconnect with and without session resumption.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/index.html and DIR/results.json.",
)
def rtmp_vs_rtmps(
    rtmp_url: str | None,
    rtmps_url: str | None,
    streams: tuple[int, ...],
    duration: float,
    repeat: int,
    warmup: int,
    networks: Sequence[str],
    tls_version: str | None,
    cipher: str | None,
    api_url: str | None,
    server_pids: Sequence[int],
    media: Path | None,
    timeout: float,
    seed: int,
    playback: bool,
    hls_url: str | None,
    resume: bool,
    as_json: bool,
    report_dir: Path | None,
) -> None:
    """Measure what TLS costs a live stream: set-up phase by phase, per-frame latency, CPU and
    bytes on the wire, RTMP and RTMPS interleaved, under each --network profile.

    Without --rtmp/--rtmps a refserver is started on free loopback ports and measured,
    latency through its API and CPU through its process. Against another server, latency is
    read by playing each stream back from it over RTMP. Differences are RTMPS minus RTMP,
    medians over the kept rounds with a 95% bootstrap interval; one whose interval holds zero
    is reported as no measurable difference.
    """
    if (rtmp_url is None) != (rtmps_url is None):
        raise click.UsageError("give both --rtmp and --rtmps, or neither (a local refserver)")
    _check_url("rtmp", rtmp_url, "--rtmp")
    _check_url("rtmps", rtmps_url, "--rtmps")
    for url, hint in ((rtmp_url, "--rtmp"), (rtmps_url, "--rtmps")):
        if url is not None and "{n}" not in url:
            raise click.BadParameter(
                "put {n} in the URL: every trial publishes a new name", param_hint=hint
            )
    _check_hls(hls_url, local=rtmp_url is None)
    try:
        context = tls_context(version=tls_version, cipher=cipher)
    except ssl.SSLError:
        raise click.BadParameter(
            f"{cipher}: no cipher OpenSSL knows", param_hint="--cipher"
        ) from None
    options = PublishOptions(timeout=timeout, ssl_context=context)
    profiles = tuple(profile_named(n) for n in (networks or ("loopback",)))
    plan = load_plan(media, enhanced=False)
    # A line redrawn in place on a terminal; plain lines, one per stage, anywhere else.
    live = StatusLine(sys.stderr) if sys.stderr.isatty() and not as_json else None
    progress = _progress(plain=live is None)
    refusal = kernel_refusal(profiles, external_server=rtmp_url is not None)
    if refusal is not None:
        raise click.UsageError(f"--network {refusal}")
    with tempfile.TemporaryDirectory(prefix="camsim-bench-") as folder:
        server = None
        kernel = None
        if rtmp_url is None:
            if any(p.kernel is not None for p in profiles):
                kernel = KernelSide(Path(folder))
                server = kernel.refserver
            else:
                server = LocalRefserver(Path(folder))
            try:
                (kernel or server).start()
            except (RuntimeError, NetnsError) as exc:
                raise click.ClickException(str(exc)) from None
            rtmp_url, rtmps_url, api_url = server.rtmp_url, server.rtmps_url, server.api_url
            server_pids = (server.pid,)
            if hls_url is not None and hls_url.startswith("/"):
                hls_url = server.api_url.removesuffix("/api/streams/") + hls_url
        assert rtmps_url is not None
        settings = BenchSettings(
            rtmp_url,
            rtmps_url,
            profiles,
            streams=streams[0] if len(streams) == 1 else streams,
            duration=duration,
            repeat=repeat,
            warmup=warmup,
            api_url=api_url,
            server_pids=tuple(server_pids),
            options=options,
            seed=seed,
            resume=resume,
            playback=playback,
            hls_url=hls_url,
        )
        try:
            if kernel is not None:
                faults = kernel.topology.faults
                results = kernel.run_in_lan(
                    lambda: asyncio.run(
                        Bench(settings, plan, progress, kernel_faults=faults, status=live).run()
                    )
                )
            else:
                results = asyncio.run(Bench(settings, plan, progress, status=live).run())
        finally:
            if live is not None:
                live.close()
            if kernel is not None:
                kernel.close()
            elif server is not None:
                server.stop()
    verdicts = [judge(r, seed=seed) for r in results]
    environment = _environment(settings, server is not None, tls_version, cipher)
    if kernel is not None:
        environment["server"] = (
            "refserver (local, started by the bench in a network namespace behind a router)"
        )
    notes = _notes(settings) + _kernel_notes(results)
    if report_dir is not None:
        page = write_report(build_report(results, verdicts, environment, notes), report_dir)
        click.echo(f"report: {page}", err=True)
    if as_json:
        click.echo(json.dumps(_json(results, verdicts, environment, notes), indent=2))
    else:
        click.echo(format_table(results, verdicts, settings))


def _check_hls(template: str | None, local: bool) -> None:
    """``--hls`` must be an http(s) URL naming each stream with ``{name}``; with the local
    refserver, whose port is not known beforehand, a path (``/live/{name}/index.m3u8``) too."""
    if template is None:
        return
    if template.startswith("/"):
        if not local:
            raise click.BadParameter(
                "a path alone is for the local refserver: give the server's URL",
                param_hint="--hls",
            )
        template = "http://127.0.0.1" + template
    if "{name}" not in template:
        raise click.BadParameter(
            "put {name} in the URL: one playlist per stream", param_hint="--hls"
        )
    if urlsplit(template).scheme not in ("http", "https") or not urlsplit(template).hostname:
        raise click.BadParameter(
            f"{template}: expected an http:// or https:// URL", param_hint="--hls"
        )


def _progress(*, plain: bool) -> Progress:
    """Stage lines on stderr when ``plain``; else the live status line says it all."""

    def show(line: str) -> None:
        if plain:
            click.echo(line, err=True)

    return show


def _environment(
    settings: BenchSettings, local: bool, tls_version: str | None, cipher: str | None
) -> dict[str, object]:
    return {
        "camsim": version("camsim"),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "platform": platform.platform(),
        "server": "refserver (local, started by the bench)" if local else settings.rtmp_url,
        "tls_version": tls_version or "negotiated",
        "cipher": cipher or "default",
        "streams": list(settings.counts),
        "repeat": settings.repeat,
        "warmup": settings.warmup,
        "duration_s": settings.duration,
    }


def _notes(settings: BenchSettings) -> list[str]:
    notes = [
        f"{settings.repeat} kept rounds per profile and protocol after {settings.warmup} "
        "warm-up round(s); RTMP and RTMPS alternate which goes first in each round.",
        f"Streaming windows run {SETTLE:g} s before {settings.duration:g} s are measured.",
        *(
            [
                f"Stream counts {', '.join(map(str, settings.counts))}: every round runs a window "
                "of each protocol at every count; CPU per stream is compared at each count, and "
                "the CPU claim holds only if it holds at all of them."
            ]
            if len(settings.counts) > 1
            else []
        ),
        "Set-up phases are the encoder session's own, on the event loop's monotonic clock.",
        "Every connection passes the bench's userspace relay, which counts bytes on the wire.",
    ]
    for profile in settings.profiles:
        notes.append(f"{profile.name}: {profile.description}")
    if settings.resume:
        notes.append(
            "--resume: each round times one RTMPS TLS set-up without and one with the session "
            "saved from a full one (TCP connect and TLS handshake only, on the bench's own "
            "connection), alternating which goes first."
        )
    if settings.hls_url is not None:
        notes.append(
            f"Per-frame latency read from the server's HLS ({settings.hls_url}): from the "
            "frame's stamp to the arrival of the first playlist that listed its segment, "
            f"reloaded every {RELOAD_INTERVAL:g} s. It includes the segment's duration (up to "
            "the target duration and the wait for the next keyframe) and the reload interval, "
            "alike for both protocols; segments listed before a stream was followed are left out."
            + ("" if settings.api_url is not None else " Frames received were not counted.")
        )
    elif settings.api_url is None and settings.playback:
        notes.append(
            "No server API: per-frame latency is read by playing each stream back from the "
            "server over plain RTMP (stamp to player, so it includes the server's fan-out, and "
            "the server's CPU includes serving the players, alike for both protocols); frames "
            "received were not counted."
        )
    elif settings.api_url is None:
        notes.append("No server API: per-frame latency and frames received were not measured.")
    return notes


def _kernel_notes(results: Sequence[ProfileResult]) -> list[str]:
    """How the router impaired each ``kernel-`` profile, loss method included."""
    notes = []
    for result in results:
        if result.kernel is None:
            continue
        method = result.kernel.get("loss_method")
        how = f"; packets dropped by {method}" if method else ""
        notes.append(
            f"{result.profile.name}: refserver in the WAN namespace, the encoder in the LAN "
            f"namespace, the router's kernel faults {result.kernel['settings']}{how}; every "
            "profile of this run took the same path, the router otherwise forwarding faithfully."
        )
    return notes


def _json(
    results: Sequence[ProfileResult],
    verdicts: Sequence[ProfileVerdict],
    environment: dict[str, object],
    notes: list[str],
) -> dict[str, object]:
    return {
        "environment": environment,
        "notes": notes,
        "profiles": [
            {"results": r.to_json(), "verdict": v.to_json()}
            for r, v in zip(results, verdicts, strict=True)
        ],
    }


def format_table(
    results: Sequence[ProfileResult], verdicts: Sequence[ProfileVerdict], settings: BenchSettings
) -> str:
    """The text summary: one block per profile, the repeat count first."""
    lines = [
        f"RTMPS - RTMP, medians of {settings.repeat} rounds per protocol "
        f"({settings.warmup} warm-up dropped), "
        f"{','.join(map(str, settings.counts))} stream(s) per window, 95% CI"
    ]
    for result, verdict in zip(results, verdicts, strict=True):
        lines.append("")
        lines.append(f"{result.profile.name} ({result.profile.description})")
        if result.kernel is not None and result.kernel.get("loss_method"):
            lines.append(f"  packet loss by {result.kernel['loss_method']}")
        for name, difference in verdict.phases.items():
            if difference is not None:
                lines.append(f"  {name.removesuffix('_ms'):<18} {difference.describe('ms')}")
        failures = {p: f for p, f in result.setup_failures.items() if f}
        for protocol, errors in failures.items():
            lines.append(f"  {protocol} set-up failures: {len(errors)} ({errors[0]})")
        lines.extend(f"  {line}" for line in verdict.lines())
        lost = ", ".join(
            f"{p} {'not measured' if n is None else n}" for p, n in verdict.frames_lost.items()
        )
        lines.append(f"  video frames sent but not counted by the server: {lost}")
        if settings.resume:
            lines.extend(f"  {line}" for line in _resumption_lines(result, settings.seed))
    return "\n".join(lines)


def _resumption_lines(result: ProfileResult, seed: int) -> list[str]:
    """``--resume``: the TLS handshake on reconnect, full against resumed."""
    full = result.resumption_phase("full", "tls_handshake_ms")
    resumed = result.resumption_phase("resumed", "tls_handshake_ms")
    reused = sum(t["session_reused"] is True for t in result.resumption["resumed"])
    trips = {k: result.resumption_phase(k, "round_trips") for k in ("full", "resumed")}
    lines = [
        f"TLS handshake on reconnect: full {_median_ms(full)} "
        f"({_median_ms(trips['full'], '')} round trips), resumed {_median_ms(resumed)} "
        f"({_median_ms(trips['resumed'], '')} round trips), "
        f"session reused {reused}/{len(result.resumption['resumed'])}"
    ]
    difference = median_difference(full, resumed, seed=seed)
    if difference is not None:
        lines.append(f"  resumed - full: {difference.describe('ms')}")
    if result.resumption_failures:
        failures = result.resumption_failures
        lines.append(f"  TLS set-up failures: {len(failures)} ({failures[0]})")
    return lines


def _median_ms(values: list[float], unit: str = " ms") -> str:
    return f"{statistics.median(values):.3g}{unit}" if values else "none"
