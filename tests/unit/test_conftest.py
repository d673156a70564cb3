"""The project's pytest plumbing (tests/conftest.py), seen from a pytest run of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# pytest.main in a fresh interpreter, then a look at what the run left imported. Prepending the
# checkout to sys.path lets the snippet import tests.conftest before pytest does, so that pytest
# reuses that module (and what the snippet changed in it).
RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
import pytest
{before}
code = pytest.main(["-q", "-p", "no:cacheprovider", *{args!r}])
print("av imported" if "av" in sys.modules else "av not imported")
sys.exit(code)
"""


def run_pytest(args: list[str], *, ci: bool, before: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    script = RUN.format(root=str(ROOT), before=before, args=args)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_unit_test_module_runs_without_pyav() -> None:
    result = run_pytest(["tests/unit/wire/rtsp/test_urls.py"], ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert result.stdout.rstrip().endswith("av not imported"), result.stdout


def test_sample_fixture_still_makes_samples() -> None:
    # The other side of the lazy import: a test that asks for a sample gets one.
    result = run_pytest(["tests/unit/camsim/media/test_make.py", "-k", "h264_profiles"], ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert result.stdout.rstrip().endswith("av imported")


MISSING_SHARED = """
import tests.conftest
tests.conftest.SHARED_DIR = Path("/nonexistent/shared")
"""
CAPTURE_TEST = "tests/unit/wire/rtsp/test_capture.py::test_requests"


def test_missing_shared_folder_skips_on_a_users_machine() -> None:
    result = run_pytest(["-rs", CAPTURE_TEST], ci=False, before=MISSING_SHARED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "/nonexistent/shared is not present" in result.stdout


def test_missing_shared_folder_fails_in_ci() -> None:
    result = run_pytest([CAPTURE_TEST], ci=True, before=MISSING_SHARED)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "CI=true and /nonexistent/shared is not present" in result.stdout
