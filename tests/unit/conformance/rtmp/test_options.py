"""The target options of ingest suites travel from ``camsim conform`` through the runner's
pytest arguments and the plugin into :class:`ConformOptions`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance import plugin, runner
from conformance.cli import conform
from conformance.session import ConformOptions


class _Config:
    """The part of a pytest config the plugin reads options from."""

    def __init__(self, args: list[str]) -> None:
        self.values: dict[str, Any] = {"conform_case": [], "conform_allow": [], "conform_set": []}
        words = iter(args)
        for word in words:
            name = word.removeprefix("--").replace("-", "_")
            if name == "conform_insecure" or name == "conform_feed_insecure":
                self.values[name] = True
            elif name in ("conform_case", "conform_allow", "conform_set"):
                self.values[name].append(next(words))
            else:
                self.values[name] = next(words)

    def getoption(self, name: str) -> Any:
        return self.values.get(name)


def test_cli_takes_the_target_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    words = ["--suite", "rtmp-ingest", "--target", "rtmps://h/live", "--hls", "http://h/{name}"]
    words += ["--key", "k", "--ca", str(ca), "--insecure"]
    params = conform.make_context("conform", words).params
    assert (params["hls"], params["key"], params["ca"], params["insecure"]) == (
        "http://h/{name}",
        "k",
        ca,
        True,
    )


def test_options_reach_the_suite_through_the_runner() -> None:
    options = ConformOptions(
        target="rtmps://h/live",
        hls="http://h/live/{name}/index.m3u8",
        key="k",
        ca=Path("/ca.pem"),
        insecure=True,
        settings=(("key-param", "secret"),),
    )
    arguments = runner._option_arguments(options)
    assert "--conform-hls" in arguments
    read = plugin.options_from(_Config(arguments))  # type: ignore[arg-type]
    assert read == options
    assert read.setting("key-param") == "secret"
