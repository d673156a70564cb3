"""``--loop auto|asyncio|uvloop`` on refserver and camsim: which loop runs, and what is said."""

from __future__ import annotations

import asyncio
import logging

import click
import pytest
from click.testing import CliRunner

from camsim import cli as camsim_cli
from refserver import cli, logs
from refserver.config import ServerConfig
from wire.asyncio import loops

uvloop = pytest.importorskip("uvloop")


@pytest.fixture
def loop_kinds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind of loop each ``refserver`` run serves in; nothing is bound."""
    kinds: list[str] = []

    async def serve(config: ServerConfig) -> None:
        kinds.append(loops.running_loop_name(asyncio.get_running_loop()))

    monkeypatch.setattr(cli, "_serve", serve)
    monkeypatch.setattr(logs, "configure", lambda *args: None)
    monkeypatch.delenv(loops.LOOP_ENV, raising=False)
    return kinds


def test_auto_is_uvloop_when_installed_and_asyncio_when_asked(loop_kinds: list[str]) -> None:
    for flags in ([], ["--loop", "auto"], ["--loop", "uvloop"], ["--loop", "asyncio"]):
        assert CliRunner().invoke(cli.main, flags).exit_code == 0
    assert loop_kinds == [loops.DEFAULT_LOOP, "uvloop", "uvloop", "asyncio"]


def test_the_environment_chooses_when_the_flag_does_not(
    loop_kinds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(loops.LOOP_ENV, "asyncio")
    assert CliRunner().invoke(cli.main, []).exit_code == 0
    assert CliRunner().invoke(cli.main, ["--loop", "uvloop"]).exit_code == 0
    assert loop_kinds == ["asyncio", "uvloop"]


def test_the_loop_is_said_once_at_startup(
    loop_kinds: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="refserver"):
        assert CliRunner().invoke(cli.main, ["--loop", "uvloop"]).exit_code == 0
    said = [r for r in caplog.records if r.getMessage() == "event loop"]
    assert len(said) == 1
    assert logs.record_fields(said[0]) == {"loop": "uvloop", "version": uvloop.__version__}


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    loop_kinds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loops, "_uvloop", lambda: None)
    assert CliRunner().invoke(cli.main, ["--loop", "auto"]).exit_code == 0
    assert loop_kinds == ["asyncio"]
    refused = CliRunner().invoke(cli.main, ["--loop", "uvloop"])
    assert refused.exit_code == 1
    assert f"Error: {loops.MISSING_UVLOOP}" in refused.output
    assert loop_kinds == ["asyncio"]


def test_asyncio_means_asyncio_whatever_policy_is_installed() -> None:
    with loops.use_loop("uvloop"):
        loop = loops.resolve("asyncio").factory()
        try:
            assert loops.running_loop_name(loop) == "asyncio"
        finally:
            loop.close()


def test_use_loop_puts_the_previous_policy_back() -> None:
    before = asyncio.get_event_loop_policy()
    with loops.use_loop("uvloop") as chosen:
        assert chosen.name == "uvloop"
        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    assert asyncio.get_event_loop_policy() is before
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        loops.resolve("trio")


def _kind_of(seen: list[str]) -> click.Command:
    @click.command()
    def probe() -> None:
        async def look() -> None:
            seen.append(loops.running_loop_name(asyncio.get_running_loop()))

        asyncio.run(look())

    return probe


@pytest.mark.parametrize(
    ("flags", "subcommand", "expected"),
    [
        ([], "run", loops.DEFAULT_LOOP),
        (["--loop", "auto"], "run", "uvloop"),
        (["--loop", "asyncio"], "push", "asyncio"),
        (["--loop", "uvloop"], "push", "uvloop"),
        (["--loop", "uvloop"], "pcap", "asyncio"),  # pcap replay needs loop.sock_sendto
    ],
)
def test_camsim_picks_the_loop_of_run_and_push_only(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], subcommand: str, expected: str
) -> None:
    monkeypatch.delenv(loops.LOOP_ENV, raising=False)
    seen: list[str] = []
    monkeypatch.setitem(camsim_cli.main.commands, subcommand, _kind_of(seen))
    before = asyncio.get_event_loop_policy()
    result = CliRunner().invoke(camsim_cli.main, [*flags, subcommand])
    assert result.exit_code == 0, result.output
    assert seen == [expected]
    assert asyncio.get_event_loop_policy() is before
