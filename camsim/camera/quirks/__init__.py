"""Named quirk profiles reproducing what real cameras do (see each profile's documentation).

Importing this package registers every profile in :data:`REGISTRY`.
"""

from camsim.camera.quirks import packets, rtsp, sdp, timing
from camsim.camera.quirks.base import REGISTRY, QuirkProfile, Quirks, register, resolve
from camsim.camera.quirks.mixed import MIXED, assign

__all__ = [
    "MIXED",
    "REGISTRY",
    "QuirkProfile",
    "Quirks",
    "assign",
    "packets",
    "register",
    "resolve",
    "rtsp",
    "sdp",
    "timing",
]
