"""The runner behind ``camsim conform``: pytest in-process, the plugin, the outputs.

:func:`run` builds the pytest command line for the chosen suites (``--pyargs`` their
packages, the ``--conform-*`` options), runs it in this process with the plugin, prints live
progress through the ``show`` callbacks and returns the :class:`~reports.model.Report`.
:func:`catalogue` collects without running, so listing needs no target.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance import plugin
from conformance.case import CaseInfo
from conformance.registry import get_suite
from conformance.session import ConformanceSession, ConformOptions
from reports.model import Report

Show = Callable[[str, Any], None]


class RunError(Exception):
    """The run could not start (usage) or pytest could not run the suites; one line."""


@dataclass
class _Grab:
    """A second plugin that hands the conformance session back to the runner."""

    show: Show | None = None
    session: ConformanceSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.session = plugin.session_of(config)
        if self.show is not None:
            self.session.listeners.append(self.show)


def _arguments(suites: Sequence[str], options: ConformOptions, keyword: str | None) -> list[str]:
    packages = [get_suite(name).package for name in suites]
    args = [
        "-c",
        os.devnull,  # the suites run the same wherever they are called from
        "--rootdir",
        str(Path.cwd()),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "-q",
        "--no-header",
        "--tb=no",
        # Only sys-level capture: the terminal's file descriptors stay the user's, so live
        # progress written while a suite observes reaches the screen.
        "--capture=sys",
        "-o",
        "console_output_style=classic",
        "--pyargs",
        *packages,
    ]
    if keyword:
        args += ["-k", keyword]
    for pattern in options.cases:
        args += ["--conform-case", pattern]
    return args


def _option_arguments(options: ConformOptions) -> list[str]:
    args: list[str] = []
    if options.target:
        args += ["--conform-target", options.target]
    if options.duration is not None:
        args += ["--conform-duration", str(options.duration)]
    if options.feed:
        args += ["--conform-feed", options.feed]
    if options.feed_media is not None:
        args += ["--conform-feed-media", str(options.feed_media)]
    if options.feed_ca is not None:
        args += ["--conform-feed-ca", str(options.feed_ca)]
    if options.feed_insecure:
        args.append("--conform-feed-insecure")
    for case_id in sorted(options.allow):
        args += ["--conform-allow", case_id]
    for key, value in options.settings:
        args += ["--conform-set", f"{key}={value}"]
    if options.hls:
        args += ["--conform-hls", options.hls]
    if options.key is not None:
        args += ["--conform-key", options.key]
    if options.pull_api is not None:
        args += ["--conform-pull-api", options.pull_api]
    if options.pull_api_remove is not None:
        args += ["--conform-pull-api-remove", options.pull_api_remove]
    if options.ca is not None:
        args += ["--conform-ca", str(options.ca)]
    if options.insecure:
        args.append("--conform-insecure")
    return args


def _pytest(args: list[str], grab: _Grab) -> tuple[int, str]:
    output = io.StringIO()
    with redirect_stdout(output):
        code = pytest.main(args, plugins=[plugin, grab])
    return int(code), output.getvalue()


def catalogue(
    suites: Sequence[str], cases: Sequence[str] = (), keyword: str | None = None
) -> list[CaseInfo]:
    """The cases of ``suites`` (after selection), without a target."""
    options = ConformOptions(cases=tuple(cases))
    grab = _Grab()
    code, output = _pytest([*_arguments(suites, options, keyword), "--collect-only"], grab)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or grab.session is None:
        raise RunError(f"the suites could not be collected:\n{output.strip()}")
    return list(grab.session.catalogue)


def run(
    suites: Sequence[str],
    options: ConformOptions,
    *,
    keyword: str | None = None,
    show: Show | None = None,
) -> Report:
    """Run ``suites`` against ``options.target``; the report says the verdict."""
    grab = _Grab(show)
    args = _arguments(suites, options, keyword) + _option_arguments(options)
    code, output = _pytest(args, grab)
    session = grab.session
    if session is None or session.interrupted or not session.results:
        if session is not None and session.interrupted:
            raise RunError("interrupted")
        if code == pytest.ExitCode.NO_TESTS_COLLECTED or (session and not session.catalogue):
            raise RunError("no case matches the selection")
        raise RunError(f"pytest exited with {code}:\n{output.strip()}")
    # Results exist: the plugin has set the exit status to the gate (2 is "could not judge",
    # which pytest would call interrupted), so the report, not the code, is the outcome.
    return session.report()
