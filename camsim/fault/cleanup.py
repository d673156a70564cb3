"""``camsim fault cleanup``: remove the namespaces of topologies whose owner is gone.

A topology's owner tears it down on exit, on SIGTERM and in the pytest fixture's finalizer; a
process killed outright (SIGKILL, a crash of the interpreter) cannot. Its namespaces carry its pid
and start time in their names (see :mod:`camsim.fault.netns`), so this finds them, kills whatever
still runs inside and deletes them; veth pairs live inside the namespaces and go with them.
``--all`` removes every camsim namespace, owners alive or not.
"""

from __future__ import annotations

import json

import click

from camsim.fault.netns import (
    PREFIX,
    NetnsError,
    delete_namespace,
    list_namespaces,
    owner_alive,
    unavailable_reason,
)


def leftover_namespaces(everything: bool = False) -> list[str]:
    """camsim namespaces whose owner is gone (every camsim namespace with ``everything``)."""
    return [
        name
        for name in list_namespaces()
        if name.startswith(PREFIX) and (everything or not owner_alive(name))
    ]


def cleanup(everything: bool = False) -> list[str]:
    """Delete the leftover namespaces (see :func:`leftover_namespaces`); returns their names."""
    removed = []
    for name in leftover_namespaces(everything):
        delete_namespace(name)
        removed.append(name)
    return removed


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--all", "everything", is_flag=True, help="Also those whose owner still runs.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
def cleanup_command(everything: bool, as_json: bool) -> None:
    """Remove network namespaces left by camsim topologies whose process is gone."""
    reason = unavailable_reason()
    if reason is not None:
        raise click.ClickException(reason)
    try:
        removed = cleanup(everything)
    except NetnsError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps({"removed": removed}))
    else:
        for name in removed:
            click.echo(f"removed {name}")
        if not removed:
            click.echo("nothing to remove")
