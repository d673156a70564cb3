"""Where segments and playlists go: a directory on disk, or memory for tests.

Writes are atomic: a reader sees the old file or the new one, never a partial one. On disk that
is a temporary file in the same directory renamed over the target (rename is atomic within a
file system, POSIX ``rename(2)``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    """The packager's view of one stream's folder."""

    def write(self, name: str, data: bytes) -> None:
        """Replace ``name`` with ``data`` atomically."""

    def read(self, name: str) -> bytes | None:
        """The file's bytes, None when absent."""

    def delete(self, name: str) -> None:
        """Remove ``name``; absent names are fine."""

    def names(self) -> list[str]:
        """Every stored name, sorted."""


class MemoryStorage:
    """Files in a dict; ``writes`` records every write in order."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.writes: list[str] = []

    def write(self, name: str, data: bytes) -> None:
        self.files[name] = bytes(data)
        self.writes.append(name)

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def delete(self, name: str) -> None:
        self.files.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self.files)


class DirectoryStorage:
    """Files in one directory, created when missing."""

    TEMP_PREFIX = ".tmp-"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _target(self, name: str) -> str:
        if not name or "/" in name or name.startswith(".") or name != os.path.basename(name):
            raise ValueError(f"storage name {name!r} is not a plain file name")
        return os.path.join(self.path, name)

    def write(self, name: str, data: bytes) -> None:
        target = self._target(name)
        # One writer per directory (one stream's packager), so each file has one fixed temporary
        # name: no random names to make, and a leftover from a crash is simply overwritten.
        temp = os.path.join(self.path, self.TEMP_PREFIX + name)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            try:
                os.fchmod(fd, 0o644)  # whatever the umask: segments are served to others
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def read(self, name: str) -> bytes | None:
        try:
            with open(self._target(name), "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._target(name))

    def names(self) -> list[str]:
        return sorted(
            entry.name
            for entry in self.path.iterdir()
            if entry.is_file() and not entry.name.startswith(self.TEMP_PREFIX)
        )


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: one ``os.write`` unless the kernel takes less (it may,
    POSIX ``write(2)``), with no file object to make and flush."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)
        while written < len(view):
            written += os.write(fd, view[written:])
