"""wire/asyncio is the only place under wire/ that imports asyncio, and the sans-IO modules do
not lean on it either."""

from __future__ import annotations

import ast
from pathlib import Path

import wire

WIRE = Path(wire.__file__).parent
PUMP_PACKAGE = WIRE / "asyncio"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            modules.add(node.module)
    return modules


def sans_io_modules() -> list[Path]:
    return sorted(p for p in WIRE.rglob("*.py") if PUMP_PACKAGE not in p.parents)


def test_the_walk_sees_the_whole_package() -> None:
    found = {p.relative_to(WIRE).as_posix() for p in sans_io_modules()}
    assert {"session.py", "backoff.py", "rtmp/connection.py", "rtsp/server.py"} <= found
    assert not any(name.startswith("asyncio/") for name in found)


def imports_of(package: str) -> dict[str, list[str]]:
    """Per sans-IO module, what it imports of ``package``."""
    found = {
        path.relative_to(WIRE).as_posix(): sorted(
            m for m in imported_modules(path) if m == package or m.startswith(f"{package}.")
        )
        for path in sans_io_modules()
    }
    return {name: modules for name, modules in found.items() if modules}


def test_no_sans_io_module_imports_asyncio() -> None:
    assert imports_of("asyncio") == {}


def test_no_sans_io_module_imports_the_pump_package() -> None:
    assert imports_of("wire.asyncio") == {}


def test_the_check_would_catch_an_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from asyncio import sleep\n    import asyncio.events\n")
    assert imported_modules(planted) == {"asyncio", "asyncio.events"}
