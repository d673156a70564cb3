"""The encoder's session and reconnect policy are sans-IO: no event loop, socket or clock in
them, nor in anything of the encoder they import; the clock and the wallclock come in as
arguments."""

from __future__ import annotations

from pathlib import Path

import camsim.encoder
from tests.unit.wire.asyncio.test_layering import imported_modules

ENCODER = Path(camsim.encoder.__file__).parent
SANS_IO = ("connection.py", "reconnect.py")
FORBIDDEN = ("asyncio", "socket", "time", "selectors", "wire.asyncio", "camsim.pcap")


def encoder_closure(names: tuple[str, ...]) -> dict[str, set[str]]:
    """What each named encoder module imports, and every encoder module it pulls in."""
    found: dict[str, set[str]] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = imported_modules(ENCODER / name)
        for module in found[name]:
            if module.startswith("camsim.encoder."):
                pending.append(module.removeprefix("camsim.encoder.") + ".py")
    return found


def leaks(names: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        name: sorted(m for m in modules if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN))
        for name, modules in encoder_closure(names).items()
    }
    return {name: modules for name, modules in found.items() if modules}


def test_the_session_and_the_policy_import_no_io() -> None:
    assert {"connection.py", "reconnect.py", "stats.py", "target.py"} <= encoder_closure(
        SANS_IO
    ).keys()
    assert leaks(SANS_IO) == {}


def test_the_check_sees_the_asyncio_owner() -> None:
    found = leaks(("publisher.py",))
    assert "asyncio" in found["publisher.py"]
    assert "wire.asyncio.pump" in found["publisher.py"]
