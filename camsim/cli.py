"""The ``camsim`` command line.

Each subcommand is imported when it is run (or asked for its help), not before: ``camsim pcap
inspect`` should not wait for the camera fleet, the conformance runner and the plotting library
to load. ``camsim -h`` loads them all to list them.
"""

from __future__ import annotations

import importlib
import logging

import click

from wire.asyncio.loops import DEFAULT_LOOP, LOOP_CHOICES, LOOP_ENV, LoopUnavailable, use_loop

SUBCOMMANDS = {
    "bench": "camsim.bench.cli:bench",
    "conform": "conformance.cli:conform",
    "fault": "camsim.fault.cli:fault",
    "media": "camsim.media.cli:media",
    "pcap": "camsim.pcap.cli:pcap",
    "push": "camsim.encoder.cli:push",
    "report": "reports.cli:report",
    "run": "camsim.camera.cli:run",
}
"""Subcommand name → ``module:attribute`` of its click command."""
LOOP_SUBCOMMANDS = frozenset({"run", "push"})
"""The subcommands whose event loop ``--loop`` picks: the camera fleet and the encoders, which
drive :mod:`wire.asyncio` as refserver does. The others keep asyncio's loop (``pcap replay``
sends with ``loop.sock_sendto``, which uvloop does not implement)."""


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="camsim")
@click.option(
    "--loop",
    "loop_choice",
    type=click.Choice(LOOP_CHOICES),
    default=DEFAULT_LOOP,
    envvar=LOOP_ENV,
    show_envvar=True,
    show_default=True,
    help="Event loop of run and push: uvloop (pip install 'camsim[fast]'), asyncio's own, or "
    "auto (uvloop when installed). The other subcommands always use asyncio's.",
)
@click.pass_context
def main(ctx: click.Context, loop_choice: str) -> None:
    """camsim: simulated IP cameras and encoders for testing live video ingest."""
    if ctx.invoked_subcommand not in LOOP_SUBCOMMANDS:
        return
    try:
        loop = ctx.with_resource(use_loop(loop_choice))
    except LoopUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    logging.getLogger("camsim").info(
        "event loop", extra={"loop": loop.name, "version": loop.version}
    )
