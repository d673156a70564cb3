"""``--quirks mixed``: a seeded random assignment of profiles across a fleet."""

from __future__ import annotations

import random
from collections.abc import Sequence

from camsim.camera.quirks.base import REGISTRY, Quirks, resolve

MIXED = "mixed"
CLEAN_SHARE = 0.25
"""The share of cameras left without quirks, so that a fleet also has good citizens."""


def assign(names: Sequence[str], cameras: int, seed: int) -> list[Quirks]:
    """The quirks of each camera: ``names`` for all of them, or ``mixed``: one profile (or
    none) per camera drawn with ``random.Random(seed)``."""
    if list(names) != [MIXED]:
        if MIXED in names:
            raise ValueError(f"{MIXED!r} cannot be combined with named profiles")
        quirks = resolve(names)
        return [quirks] * cameras
    rng = random.Random(seed)
    profiles = sorted(REGISTRY)
    result = []
    for _ in range(cameras):
        if rng.random() < CLEAN_SHARE:
            result.append(Quirks())
        else:
            result.append(resolve([rng.choice(profiles)]))
    return result
