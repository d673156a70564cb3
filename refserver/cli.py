"""The ``refserver`` command line."""

from __future__ import annotations

import click


@click.command()
@click.version_option(package_name="camsim")
def main() -> None:
    """The reference server: RTSP pull and RTMP/RTMPS ingest to HLS over HTTP.

    The ingest and HLS parts are not built yet; this command only reports that.
    """
    raise click.ClickException("refserver: RTMP ingest and HLS serving are not available yet")
