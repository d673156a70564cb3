"""Named quirk profiles reproducing what real cameras do (see each profile's documentation).

Importing this package registers every profile in :data:`REGISTRY`, and the device faults of
the resilience suite in :data:`FAULT_REGISTRY`.
"""

from camsim.camera.quirks import packets, rtsp, sdp, timing
from camsim.camera.quirks.base import (
    FAULT_REGISTRY,
    REGISTRY,
    QuirkProfile,
    Quirks,
    register,
    register_fault,
    resolve,
)
from camsim.camera.quirks.mixed import MIXED, assign

__all__ = [
    "FAULT_REGISTRY",
    "MIXED",
    "REGISTRY",
    "QuirkProfile",
    "Quirks",
    "assign",
    "packets",
    "register",
    "register_fault",
    "resolve",
    "rtsp",
    "sdp",
    "timing",
]
