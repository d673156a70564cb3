"""``camsim pcap inspect|extract|replay|redact``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from camsim.pcap.capture import CaptureError
from camsim.pcap.inspect import InspectResult, inspect_capture
from camsim.pcap.output import format_text, to_json

_CAPTURE = click.Path(exists=True, dir_okay=False, path_type=Path)


def load(path: Path) -> InspectResult:
    """Inspect ``path``, turning a file that is not a capture into a clean error."""
    try:
        return inspect_capture(path)
    except (CaptureError, OSError) as error:
        raise click.ClickException(str(error)) from None


@click.group()
def pcap() -> None:
    """Inspect, extract, replay and redact packet captures (pcap, pcapng)."""


@pcap.command()
@click.argument("file", type=_CAPTURE)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--show-secrets",
    is_flag=True,
    help="Show RTMP stream names, user names and URL credentials instead of hiding them.",
)
def inspect(file: Path, as_json: bool, show_secrets: bool) -> None:
    """The dialogs, the media streams and the problems found in FILE."""
    result = load(file)
    if as_json:
        json.dump(to_json(result, show_secrets=show_secrets), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(format_text(result, show_secrets=show_secrets))
