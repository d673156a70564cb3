from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from refserver.hls import DirectoryStorage, MemoryStorage


def test_directory_write_read_delete(tmp_path):
    storage = DirectoryStorage(tmp_path / "live" / "cam1")
    storage.write("index.m3u8", b"one")
    storage.write("index.m3u8", b"two")
    assert storage.read("index.m3u8") == b"two"
    assert storage.names() == ["index.m3u8"]
    assert stat.S_IMODE(os.stat(storage.path / "index.m3u8").st_mode) == 0o644
    storage.delete("index.m3u8")
    storage.delete("index.m3u8")
    assert storage.read("index.m3u8") is None
    assert storage.names() == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    storage = DirectoryStorage(tmp_path)
    storage.write("segment0.ts", b"old")

    def broken_replace(src: str, dst: str) -> None:
        # The new bytes are complete in the temporary file before the rename.
        assert Path(src).read_bytes() == b"new"
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        storage.write("segment0.ts", b"new")
    assert storage.read("segment0.ts") == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment0.ts"]


def test_readers_never_see_the_temporary_name(tmp_path, monkeypatch):
    storage = DirectoryStorage(tmp_path)
    seen: list[list[str]] = []
    real_replace = os.replace

    def observing_replace(src: str, dst: str) -> None:
        seen.append(storage.names())
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", observing_replace)
    storage.write("index.m3u8", b"x")
    assert seen == [[]]
    assert storage.names() == ["index.m3u8"]


@pytest.mark.parametrize("name", ["", "../x.ts", "a/b.ts", ".hidden"])
def test_directory_rejects_non_plain_names(tmp_path, name):
    with pytest.raises(ValueError, match="is not a plain file name"):
        DirectoryStorage(tmp_path).write(name, b"")


def test_memory_storage_records_writes():
    storage = MemoryStorage()
    storage.write("a", b"1")
    storage.write("b", b"2")
    storage.delete("a")
    assert storage.names() == ["b"]
    assert storage.writes == ["a", "b"]
    assert storage.read("a") is None
