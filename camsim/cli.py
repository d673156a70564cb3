"""The ``camsim`` command line."""

from __future__ import annotations

import click

from camsim.camera.cli import run
from camsim.encoder.cli import push
from camsim.media.cli import media
from camsim.pcap.cli import pcap
from conformance.cli import conform
from reports.cli import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camsim")
def main() -> None:
    """camsim: simulated IP cameras and encoders for testing live video ingest."""


main.add_command(media)
main.add_command(pcap)
main.add_command(push)
main.add_command(run)
main.add_command(conform)
main.add_command(report)
