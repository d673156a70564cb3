"""Every command of ``camsim`` and ``refserver`` explains every option and answers ``-h``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner

from camsim.cli import main as camsim_main
from refserver.cli import main as refserver_main

ROOTS = {"camsim": camsim_main, "refserver": refserver_main}


def commands() -> Iterator[tuple[str, list[str], click.Command]]:
    """(program, subcommand path, command) for every command and group, depth first."""

    def walk(program: str, path: list[str], command: click.Command) -> Iterator[Any]:
        yield program, path, command
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(program, [*path, name], sub)

    for program, root in ROOTS.items():
        yield from walk(program, [], root)


ALL = list(commands())
IDS = [" ".join([program, *path]) for program, path, _ in ALL]


@pytest.mark.parametrize(("program", "path", "command"), ALL, ids=IDS)
def test_every_option_says_what_it_does(
    program: str, path: list[str], command: click.Command
) -> None:
    silent = []
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        text = (param.help or "").strip()
        # A bare "[default: x]" or "Seconds." says what the value is, not what it is for.
        if not text or text.startswith("[") or len(text.split()) < 2:
            silent.append("/".join(param.opts))
    assert not silent, f"{' '.join([program, *path])}: options without help: {silent}"


@pytest.mark.parametrize(("program", "path", "command"), ALL, ids=IDS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(program: str, path: list[str], command: click.Command, flag: str):
    result = CliRunner().invoke(ROOTS[program], [*path, flag], prog_name=program)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join([program, *path])} ")
