"""Every parser of network input in :mod:`wire`, as a fuzz target over bytes.

The targets live in one module per area (``targets_media``, ``targets_rtmp``, ``targets_rtsp``)
and register in :data:`TARGETS` (see :mod:`tests.fuzz.registry` for how :func:`check` runs one
input: the documented error is a correct answer; any other exception, more than
:data:`CPU_LIMIT` seconds of CPU or more than :data:`MEMORY_LIMIT` of new peak memory is a bug).
The hypothesis tests in this package and the atheris script
(``python -m tests.fuzz.atheris_targets``) drive the same targets.

The sans-IO connections are targets too: they must never raise for what the peer sent, only
report it with events; after the input and the end of the stream they must have ended in an
event (RTSP: ``ConnectionTerminated`` after ``receive_eof``).
"""

from __future__ import annotations

# Importing the area modules registers their targets.
from tests.fuzz import targets_media, targets_rtmp, targets_rtsp
from tests.fuzz.registry import (
    CPU_LIMIT,
    MEMORY_LIMIT,
    TARGETS,
    Hang,
    MemoryHog,
    Target,
    check,
    cpu_limit,
    peak_memory,
)
from tests.fuzz.targets_rtmp import RTMP_STAGES

__all__ = [
    "CPU_LIMIT",
    "MEMORY_LIMIT",
    "RTMP_STAGES",
    "TARGETS",
    "Hang",
    "MemoryHog",
    "Target",
    "check",
    "cpu_limit",
    "peak_memory",
    "targets_media",
    "targets_rtmp",
    "targets_rtsp",
]
