"""The ``camsim`` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camsim")
def main() -> None:
    """camsim: simulated IP cameras and encoders for testing live video ingest."""
