from __future__ import annotations

import random
from collections.abc import Callable

import pytest


@pytest.fixture
def seeded_random() -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    rng = random.Random(1935)
    return rng.randbytes
