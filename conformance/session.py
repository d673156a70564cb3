"""One conformance run's state: options, the catalogue collected, results as they come.

The plugin keeps a :class:`ConformanceSession` in the pytest config; suites reach it through
the ``conform_session`` fixture (to add environment facts and notes, report progress), the
runner behind ``camsim conform`` through :func:`conformance.plugin.session_of`.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from conformance.case import CaseInfo
from reports.model import CaseResult, Report, Verdict

Listener = Callable[[str, Any], None]
"""Called with ("case", CaseResult) after each case, ("status", str) while observing."""


@dataclass(frozen=True)
class ConformOptions:
    """What the user asked for; suites read the target-related fields."""

    target: str | None = None
    duration: float | None = None
    feed: str | None = None
    feed_media: Path | None = None
    feed_ca: Path | None = None
    feed_insecure: bool = False
    cases: tuple[str, ...] = ()
    allow: frozenset[str] = frozenset()
    settings: tuple[tuple[str, str], ...] = ()
    """Suite-specific ``KEY=VALUE`` settings (``--set``), e.g. where a suite finds the HLS
    output of the RTMP ingest it judges."""
    hls: str | None = None
    """Where an ingest target serves the HLS of a stream it takes in: a URL with ``{name}``
    for the stream name (``--hls``)."""
    key: str | None = None
    """The stream key an ingest target wants (``--key``)."""
    ca: Path | None = None
    """CA bundle that signs a TLS target's certificate (``--ca``)."""
    insecure: bool = False
    """Do not verify a TLS target's certificate (``--insecure``)."""
    pull_api: str | None = None
    """rtsp-client: the request that tells a server to pull a camera, ``METHOD URL [BODY]``
    with ``{name}`` and ``{url}`` (``--pull-api``); its HLS is at ``hls``."""
    pull_api_remove: str | None = None
    """rtsp-client: the request that tells it to stop, ``METHOD URL`` (``--pull-api-remove``)."""

    def setting(self, key: str, default: str | None = None) -> str | None:
        """The last value given for ``key``."""
        return next((v for k, v in reversed(self.settings) if k == key), default)


class TargetUnreachable(Exception):
    """The target could not be observed at all; the message is one line saying why."""


def camsim_version() -> str:
    try:
        return metadata.version("camsim")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class ConformanceSession:
    options: ConformOptions
    catalogue: list[CaseInfo] = field(default_factory=list)
    results: list[CaseResult] = field(default_factory=list)
    charts: list[Any] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    target_error: str = ""
    interrupted: bool = False
    created: str = ""
    started: float = field(default_factory=time.monotonic)
    suites: list[str] = field(default_factory=list)

    def progress(self, text: str) -> None:
        """A status line while a suite observes its target."""
        for listener in self.listeners:
            listener("status", text)

    def add_result(self, result: CaseResult) -> None:
        self.results.append(result)
        for listener in self.listeners:
            listener("case", result)

    def report(self) -> Report:
        """The run as a :class:`~reports.model.Report`."""
        from reports import now_iso

        environment: dict[str, Any] = {
            "target": self.options.target or "",
            "suites": list(self.suites),
            "camsim_version": camsim_version(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        }
        if self.options.feed:
            environment["feed"] = self.options.feed
        if self.options.allow:
            environment["allowed deviations"] = sorted(self.options.allow)
        environment.update(self.environment)
        title = "Conformance: " + (", ".join(self.suites) or "no suite")
        report = Report(
            title=title,
            kind="conformance",
            created=self.created or now_iso(),
            cases=list(self.results),
            environment=environment,
            charts=list(self.charts),
            notes=list(self.notes),
            error=self.target_error,
            duration=time.monotonic() - self.started,
        )
        return report

    def verdict_counts(self) -> dict[Verdict, int]:
        counts = dict.fromkeys(Verdict, 0)
        for result in self.results:
            counts[result.verdict] += 1
        return counts
