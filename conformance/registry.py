"""The suites ``camsim conform --suite NAME`` knows, registered by name.

A suite is a package of pytest modules (its cases) with a ``conftest.py`` for its fixtures.
Its ``__init__`` registers it::

    register(Suite("hls-output", __name__, "HLS output of a live stream",
                   target="an HLS playlist URL (media or multivariant)"))

and :mod:`conformance.suites` imports the built-in suite packages so they register.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Suite:
    """``package`` is the dotted name pytest collects with ``--pyargs``."""

    name: str
    package: str
    title: str
    target: str = ""
    groups: tuple[str, ...] = ()
    """ID prefixes in the order the catalogue and reports list them (``HLS-PL``, ...)."""

    def order(self, case_id: str) -> tuple[int, str]:
        """Sort key of a case: its group's position, then its ID."""
        for position, prefix in enumerate(self.groups):
            if case_id.startswith(prefix + "-"):
                return position, case_id
        return len(self.groups), case_id


SUITES: dict[str, Suite] = {}


class UnknownSuite(KeyError):
    def __str__(self) -> str:
        known = ", ".join(sorted(SUITES)) or "none"
        return f"no conformance suite named {self.args[0]!r} (known: {known})"


def register(suite: Suite) -> Suite:
    if suite.name in SUITES and SUITES[suite.name] != suite:
        raise ValueError(f"suite {suite.name!r} is registered twice")
    SUITES[suite.name] = suite
    return suite


def get_suite(name: str) -> Suite:
    import conformance.suites  # noqa: F401  (the built-in suites register on import)

    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuite(name) from None


def suite_of_module(module_name: str) -> Suite | None:
    """The suite a test module belongs to."""
    for suite in SUITES.values():
        if module_name == suite.package or module_name.startswith(suite.package + "."):
            return suite
    return None
