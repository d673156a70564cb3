"""``camsim pcap inspect|extract|replay|redact``.

The modules behind each command are imported when the command runs: every ``camsim`` command
loads this group, and none of them should pay for numpy, PyAV or the replay's camera.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from camsim.pcap.capture import CaptureError

if TYPE_CHECKING:
    from camsim.pcap.extract import Extraction
    from camsim.pcap.inspect import InspectResult

_CAPTURE = click.Path(exists=True, dir_okay=False, path_type=Path)


def load(path: Path) -> InspectResult:
    """Inspect ``path``, turning a file that is not a capture into a clean error."""
    from camsim.pcap.inspect import inspect_capture

    try:
        return inspect_capture(path)
    except (CaptureError, OSError) as error:
        raise click.ClickException(str(error)) from None


# The same help names as camsim's own group: click caches a command's help option, so the group
# run on its own (as the tests do) must not fix it at --help alone.
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def pcap() -> None:
    """Inspect, extract, replay and redact packet captures (pcap, pcapng)."""


@pcap.command()
@click.argument("file", type=_CAPTURE)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the HTML report (charts of bitrate, jitter and gaps) into this folder.",
)
@click.option(
    "--show-secrets",
    is_flag=True,
    help="Show RTMP stream names, user names and URL credentials instead of hiding them.",
)
def inspect(file: Path, as_json: bool, report_dir: Path | None, show_secrets: bool) -> None:
    """The dialogs, the media streams and the problems found in FILE."""
    from camsim.pcap.output import format_text, to_json

    result = load(file)
    if report_dir is not None:
        from camsim.pcap.report import write_report  # the renderer imports matplotlib

        page = write_report(result, report_dir, show_secrets=show_secrets)
        click.echo(f"report: {page}", err=True)
    if as_json:
        json.dump(to_json(result, show_secrets=show_secrets), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(format_text(result, show_secrets=show_secrets))


@pcap.command()
@click.argument("file", type=_CAPTURE)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the files (made if needed).",
)
@click.option(
    "--format",
    "container",
    type=click.Choice(["mp4", "ts", "raw"]),
    default="mp4",
    show_default=True,
    help="mp4 or ts (muxed with PyAV), or raw elementary streams (.h264/.h265/.aac).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def extract(file: Path, out: Path, container: str, as_json: bool) -> None:
    """Each stream's media in FILE into files a player opens, with its gaps listed."""
    # PyAV is imported here, not at the top: inspect must not pay for it.
    from camsim.pcap.extract import ExtractError
    from camsim.pcap.extract import extract as extract_streams

    try:
        _, extractions = extract_streams(file, out, container=container)
    except (CaptureError, OSError, ExtractError) as error:
        raise click.ClickException(str(error)) from None
    if not extractions:
        raise click.ClickException(f"{file}: no H.264, H.265 or AAC stream to extract")
    if as_json:
        json.dump([_extraction_json(e) for e in extractions], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for extraction in extractions:
        files = ", ".join(str(f) for f in extraction.files) or "nothing written"
        click.echo(f"{extraction.name}: {files}")
        for track in extraction.tracks:
            skipped = (
                f", {track.skipped_before_keyframe} frames before the first keyframe left out"
                if track.skipped_before_keyframe
                else ""
            )
            click.echo(f"  {track.kind} {track.codec}: {len(track.units)} frames{skipped}")
            for gap in track.gaps:
                click.echo(
                    f"    gap at {gap.seconds:.3f} s (before packet {gap.packet}): {gap.what}"
                )
            for problem in track.discarded[:10]:
                click.echo(f"    {problem}")


def _extraction_json(extraction: Extraction) -> dict[str, object]:
    return {
        "name": extraction.name,
        "files": [str(f) for f in extraction.files],
        "tracks": [
            {
                "kind": t.kind,
                "codec": t.codec,
                "source": t.source,
                "frames": len(t.units),
                "skipped_before_keyframe": t.skipped_before_keyframe,
                "gaps": [
                    {"packet": g.packet, "seconds": g.seconds, "what": g.what} for g in t.gaps
                ],
                "discarded": t.discarded,
            }
            for t in extraction.tracks
        ],
    }


@pcap.command()
@click.argument("file", type=_CAPTURE)
@click.argument("target", required=False)
@click.option(
    "--as",
    "mode",
    type=click.Choice(["camera", "push", "raw"]),
    required=True,
    help="camera: serve the captured camera over RTSP; push URL: publish to an RTMP server; "
    "raw: resend the captured UDP payloads (--to).",
)
@click.option("--to", "to", help="raw: HOST:PORT to send to (loopback only).")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="camera: address to listen on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8554,
    show_default=True,
    help="camera: RTSP port to listen on (0 picks a free one).",
)
@click.option(
    "--speed", type=float, default=1.0, show_default=True, help="Time scale: 2 = twice as fast."
)
@click.option(
    "--loop", "loop_media", is_flag=True, help="Start over at the end, timestamps continuing."
)
@click.option(
    "--dialog",
    type=click.Choice(["camsim", "verbatim"]),
    default="camsim",
    show_default=True,
    help="camera: answer as camsim does, or with the captured answers (quirks included).",
)
@click.option("--select", "select", type=int, help="Which RTSP dialog or RTMP session (number).")
@click.option("--insecure", is_flag=True, help="push to rtmps://: do not verify the certificate.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SETTING=VALUE",
    help="Replay through the fault proxy with this fault, named as in `camsim fault proxy` "
    "(loss=5%, burst=1%,25%, delay=80ms, jitter, rate=2M, reorder, nat=symmetric, up_/down_...; "
    "repeatable).",
)
@click.option("--fault-seed", type=int, help="Seed of the fault proxy's random choices (0).")
def replay(
    file: Path,
    target: str | None,
    mode: str,
    to: str | None,
    host: str,
    port: int,
    speed: float,
    loop_media: bool,
    dialog: str,
    select: int | None,
    insecure: bool,
    duration: float | None,
    faults: tuple[str, ...],
    fault_seed: int | None,
) -> None:
    """Make FILE's camera or encoder live again."""
    from camsim.pcap import replay_cli

    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    proxy = replay_cli.fault_options(faults, fault_seed)
    try:
        if mode == "camera":
            replay_cli.camera(file, host, port, speed, loop_media, dialog, select, duration, *proxy)
        elif mode == "push":
            if target is None:
                raise click.UsageError("--as push needs a URL: --as push rtmp://HOST/APP/NAME")
            replay_cli.push(file, target, speed, loop_media, select, duration, insecure, *proxy)
        else:
            if to is None:
                raise click.UsageError("--as raw needs --to HOST:PORT")
            replay_cli.raw(file, to, speed, loop_media, duration, *proxy)
    except (CaptureError, OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@pcap.command()
@click.argument("file", type=_CAPTURE)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The redacted capture (pcapng).",
)
@click.option("--drop-media", is_flag=True, help="Zero RTP payloads after their first 4 bytes.")
@click.option("--keep-addresses", is_flag=True, help="Leave IP and MAC addresses as they are.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def redact(file: Path, out: Path, drop_media: bool, keep_addresses: bool, as_json: bool) -> None:
    """Write FILE without its credentials, stream keys and tokens (and addresses) to --out."""
    from camsim.pcap.redact import redact as redact_capture

    if out.resolve() == file.resolve():
        raise click.BadParameter("must not be the input file", param_hint="--out")
    try:
        report = redact_capture(file, out, drop_media=drop_media, keep_addresses=keep_addresses)
    except (CaptureError, OSError) as error:
        raise click.ClickException(str(error)) from None
    kinds: dict[str, int] = {}
    for secret in report.secrets:
        kinds[secret.kind] = kinds.get(secret.kind, 0) + 1
    if as_json:
        summary = {
            "output": str(out),
            "packets": report.packets,
            "secrets": kinds,
            "occurrences_replaced": report.occurrences,
            "addresses": report.addresses,
            "media_payloads_dropped": report.media_payloads_dropped,
        }
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"{out}: {report.packets} packets")
    for kind, count in sorted(kinds.items()):
        click.echo(f"  hidden: {count} x {kind}")
    click.echo(f"  {report.occurrences} occurrences overwritten")
    for original, mapped in sorted(report.addresses.items()):
        click.echo(f"  address {original} -> {mapped}")
    if drop_media:
        click.echo(f"  {report.media_payloads_dropped} RTP payloads zeroed")
