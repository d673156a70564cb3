"""Project-wide pytest plumbing.

``@pytest.mark.interop("ffprobe", ...)`` names the real third-party programs a test needs. When one
is missing the test is skipped with the reason, except under ``CI=true`` where a missing peer is a
failure: CI installs every peer, so a skip there would hide a broken install. The real captures in
``../shared/captures`` follow the same rule.

Nothing here imports PyAV: most tests never touch media files, and loading FFmpeg's libraries costs
every one of them. The sample fixture imports it when it is first used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.media.spec import SampleSpec

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="interop"):
        missing = [name for name in marker.args if shutil.which(name) is None]
        if missing:
            reason = f"real peer not installed: {', '.join(missing)} (scripts/install-peers)"
            if in_ci():
                pytest.fail(f"CI=true and {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the checkout (real captures, peers' configurations).

    Tests that read from it skip without it, except under ``CI=true``: CI provides the folder,
    so its absence there is a broken set-up, not a reason to pass.
    """
    if not SHARED_DIR.is_dir():
        reason = f"{SHARED_DIR} is not present"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return SHARED_DIR


# Small and quick to encode, but with every feature of the default sample: 2 s GOP at 15 fps,
# stamps, AAC.
SMALL_SPEC = SampleSpec(
    width=320, height=240, fps=Fraction(15), duration=Fraction(4), bitrate=400_000
)

SampleFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def make_test_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleFactory:
    """Makes (once per session and spec) a small sample; keyword arguments change SMALL_SPEC."""
    from camsim.media.make import make_sample  # PyAV, only for the tests that make samples

    folder = tmp_path_factory.mktemp("samples")

    def make(**changes: object) -> Path:
        spec = SMALL_SPEC.with_changes(**changes)
        path = folder / f"{spec.cache_key()}.mp4"
        return path if path.exists() else make_sample(spec, path)

    return make
