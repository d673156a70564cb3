"""The camera's connection, its RTSP answers and its media sessions read no clock and touch no
socket or event loop themselves: the time comes in as an argument, the wallclock of sender
reports from the server's settings, and the pump lives in camsim.camera.server."""

from __future__ import annotations

from pathlib import Path

import camsim.camera
from tests.unit.wire.asyncio.test_layering import imported_modules

CAMERA = Path(camsim.camera.__file__).parent
IO = ("asyncio", "socket", "selectors", "wire.asyncio", "camsim.pcap")


def io_imports(name: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        module
        for module in imported_modules(CAMERA / name)
        if any(module == f or module.startswith(f"{f}.") for f in forbidden)
    )


def test_the_connection_and_its_sessions_import_no_io_and_no_clock() -> None:
    for name in ("connection.py", "session.py"):
        assert io_imports(name, (*IO, "time")) == [], name


def test_the_rtsp_answers_import_no_io() -> None:
    # ``time`` only as the default wallclock of ServerSettings; nothing in it reads the clock.
    assert io_imports("control.py", IO) == []


def test_the_check_sees_the_asyncio_owner() -> None:
    assert "asyncio" in io_imports("server.py", IO)
    assert "wire.asyncio.pump" in io_imports("server.py", IO)
