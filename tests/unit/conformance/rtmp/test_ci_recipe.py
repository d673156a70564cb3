"""The CI gate recipes in docs/ci (the README shows them) run commands that exist: every
``camsim conform`` and ``refserver`` line parses with the real command-line definitions, names
a registered suite, and gives ``--hls`` the ``{name}`` of the stream."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest

from conformance.cli import conform
from conformance.registry import get_suite
from refserver.cli import main as refserver

RECIPES = sorted((Path(__file__).resolve().parents[4] / "docs" / "ci").glob("*.yml"))


def commands(text: str, program: str) -> list[list[str]]:
    """Each ``program`` command of a recipe, folded YAML continuations joined, up to a shell
    redirection or ``&``."""
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines):
        stripped = line.strip().removeprefix("- ").removeprefix("run: ")
        if not stripped.startswith(program + " "):
            continue
        parts = [stripped]
        for following in lines[number + 1 :]:
            if not following.strip().startswith("--"):
                break
            parts.append(following.strip())
        words = shlex.split(" ".join(parts))
        cut = next((i for i, w in enumerate(words) if w in (">", "&", "2>&1", "|")), len(words))
        found.append(words[:cut])
    return found


def test_there_are_recipes_for_github_and_gitlab() -> None:
    assert [p.name for p in RECIPES] == ["github-actions.yml", "gitlab-ci.yml"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_camsim_conform_commands_parse(recipe: Path) -> None:
    found = commands(recipe.read_text(), "camsim")
    assert found, "the recipe runs camsim conform"
    for words in found:
        assert words[:2] == ["camsim", "conform"]
        context = conform.make_context("conform", words[2:])
        params = context.params
        for suite in params["suites"]:
            get_suite(suite)
        assert params["target"].startswith(("rtmp://", "rtmps://"))
        assert "{name}" in params["hls"]
        assert params["junit"] is not None
        assert params["report_dir"] is not None


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_refserver_commands_parse(recipe: Path) -> None:
    found = commands(recipe.read_text(), "refserver")
    assert found, "the recipe starts a server under test"
    for words in found:
        refserver.make_context("refserver", words[1:])


def test_an_unknown_flag_would_be_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        conform.make_context("conform", ["--suite", "rtmp-ingest", "--hsl", "x"])
