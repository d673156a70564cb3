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


def test_a_reader_of_the_old_file_keeps_the_old_bytes(tmp_path):
    # The new bytes go to a new file renamed over the old: an open reader is never cut short.
    storage = DirectoryStorage(tmp_path)
    storage.write("index.m3u8", b"#EXTM3U\nold\n")
    with open(tmp_path / "index.m3u8", "rb") as reader:
        storage.write("index.m3u8", b"#EXTM3U\nnew, and longer\n")
        assert reader.read() == b"#EXTM3U\nold\n"
    assert storage.read("index.m3u8") == b"#EXTM3U\nnew, and longer\n"


def test_short_writes_are_carried_on(tmp_path, monkeypatch):
    real_write = os.write
    calls = []

    def short_write(fd: int, data: bytes) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data)[:1000])

    monkeypatch.setattr(os, "write", short_write)
    data = bytes(range(256)) * 10
    DirectoryStorage(tmp_path).write("segment1.ts", data)
    assert (tmp_path / "segment1.ts").read_bytes() == data
    assert calls == [2560, 1560, 560]


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("failing", ["write", "fchmod", "replace"])
def test_a_failed_write_closes_the_file_and_removes_the_temporary(tmp_path, monkeypatch, failing):
    storage = DirectoryStorage(tmp_path)
    storage.write("segment1.ts", b"old")

    def broken(*args: object) -> int:
        raise OSError(28, "No space left on device")

    before = open_descriptors()
    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(OSError, match="No space left"):
        storage.write("segment1.ts", b"new")
    monkeypatch.undo()
    assert open_descriptors() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment1.ts"]
    assert storage.read("segment1.ts") == b"old"


def test_files_are_readable_by_others_whatever_the_umask(tmp_path):
    previous = os.umask(0o077)
    try:
        DirectoryStorage(tmp_path).write("segment1.ts", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "segment1.ts").st_mode) == 0o644


def test_a_leftover_temporary_is_overwritten_and_never_listed(tmp_path):
    (tmp_path / ".tmp-segment1.ts").write_bytes(b"a longer leftover of a crash")
    storage = DirectoryStorage(tmp_path)
    assert storage.names() == []
    storage.write("segment1.ts", b"new")
    assert storage.read("segment1.ts") == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment1.ts"]


@pytest.mark.parametrize("name", ["", "../x.ts", "a/b.ts", ".hidden"])
def test_read_and_delete_reject_non_plain_names(tmp_path, name):
    storage = DirectoryStorage(tmp_path)
    with pytest.raises(ValueError, match="is not a plain file name"):
        storage.read(name)
    with pytest.raises(ValueError, match="is not a plain file name"):
        storage.delete(name)
