"""Every command of ``camsim`` and ``refserver`` explains every option and answers ``-h``."""

from __future__ import annotations

import subprocess
import sys
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
            # Through click's API, which imports the commands a lazy group has not loaded yet.
            context = click.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None, f"{program} {' '.join(path)} lists {name} but has none"
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


def test_a_subcommand_loads_only_what_it_needs() -> None:
    # `camsim pcap inspect` on a small capture should answer in well under a second: the
    # camera fleet, the conformance runner and matplotlib are not imported for it.
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from camsim.cli import main\n"
        "result = CliRunner().invoke(main, ['pcap', '-h'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = {'camsim.camera', 'conformance.runner', 'matplotlib.pyplot'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
