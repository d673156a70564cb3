"""Every test in this folder carries the ``fuzz`` marker (registered in pyproject.toml) and runs
by default with the others; ``-m fuzz`` selects only them, ``CAMSIM_FUZZ_EXAMPLES=N`` makes each
property try N inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.fuzz)
