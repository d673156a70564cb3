"""The resilience suite's ``port-554-blocked`` scenario with refserver as the puller, run as a
user runs it (``camsim conform`` in its own process, refserver started from the template): given
the alternative port with ``--pull-alternative-port {alt_port}``, refserver reaches the camera
and passes; given only the blocked URL, the same scenario fails it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conformance.conftest import conform
from tests.integration.conformance.rtsp_client.test_clients import refserver_command

CASE = "RESIL-NET-PORT-554-BLOCKED"


def run(target: str, json_path: Path) -> tuple[str, str]:
    result = conform(
        ["--suite", "resilience", "--target", target, f"--case={CASE}"], json_path, timeout=200
    )
    case = result.case(CASE)
    return case["verdict"], result.stdout


@pytest.mark.timeout(300)
def test_refserver_given_the_alternative_port_passes_port_554_blocked(tmp_path: Path) -> None:
    verdict, stdout = run(
        refserver_command("--pull-alternative-port {alt_port}"), tmp_path / "alt.json"
    )
    assert verdict == "pass", stdout


@pytest.mark.timeout(300)
def test_refserver_given_only_the_blocked_url_fails_port_554_blocked(tmp_path: Path) -> None:
    verdict, stdout = run(refserver_command(), tmp_path / "blocked.json")
    assert verdict == "fail", stdout
