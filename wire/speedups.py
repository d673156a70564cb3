"""Which implementation of the hot paths runs: the compiled extensions or the pure-Python reference.

Some functions of ``wire`` (the TS packetizer, the RTMP chunk reader, RTP parsing and
depacketizing) also exist as compiled extensions built from ``.pyx`` files beside their pure-Python
modules when ``pip install`` finds a C compiler. The pure-Python code is the reference: every
extension function takes the same arguments, returns the same values and raises the same
exceptions, which the differential tests check. When an extension is missing (no compiler at
install time) the pure code runs; setting ``CAMSIM_NO_EXTENSIONS=1`` forces the pure code even
when the extensions are built, as ``AIOHTTP_NO_EXTENSIONS`` does for aiohttp. Which one runs is
logged once, at debug level, the first time a module asks.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

ENVIRONMENT_VARIABLE = "CAMSIM_NO_EXTENSIONS"

log = logging.getLogger(__name__)

_loaded: dict[str, ModuleType | None] = {}


def disabled() -> bool:
    """Whether the environment forces the pure-Python implementation."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "") not in ("", "0")


def extension(name: str) -> ModuleType | None:
    """The compiled module ``name`` (``wire.ts._muxer`` for instance), or ``None`` when it is
    not built or the environment forces the pure code; the answer is logged once."""
    if name in _loaded:
        return _loaded[name]
    module: ModuleType | None = None
    if disabled():
        log.debug("%s: pure Python (%s is set)", name, ENVIRONMENT_VARIABLE)
    else:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            log.debug("%s: pure Python (the extension is not built: %s)", name, exc)
        else:
            log.debug("%s: compiled extension %s", name, module.__file__)
    _loaded[name] = module
    return module


def implementation() -> str:
    """``"compiled"`` when every extension asked for so far is in use, ``"pure"`` when none is,
    ``"mixed"`` otherwise; ``"pure"`` too when the environment forces it."""
    if disabled():
        return "pure"
    used = [module is not None for module in _loaded.values()]
    if used and all(used):
        return "compiled"
    return "mixed" if any(used) else "pure"
