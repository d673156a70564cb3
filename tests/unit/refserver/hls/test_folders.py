"""Stream folders: where an old playlist left off, expiry of refserver's own folders only, and
temporary HLS folders left by refservers that died."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refserver.hls import HlsOptions
from refserver.hls.folders import (
    LOCK,
    MARKER,
    ResumePoint,
    TemporaryHlsFolder,
    claim_stream_folder,
    expire_stream_folders,
    remove_stale_temporary_folders,
    resume_point,
)
from refserver.streams import PublisherInfo, StreamRegistry

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXTINF:2.000,
segment7.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
segment8.ts
#EXTINF:2.000,
segment9.ts
"""


def stream_folder(root: Path, name: str, *, marked: bool = True, age: float = 0.0) -> Path:
    """A folder as a packager leaves it, last written ``age`` seconds before now."""
    folder = root / name
    folder.mkdir()
    (folder / "index.m3u8").write_text(PLAYLIST)
    (folder / "segment9.ts").write_bytes(b"\x47" * 188)
    if marked:
        (folder / MARKER).touch()
    then = 1_000_000.0 - age
    for entry in [*folder.iterdir(), folder]:
        os.utime(entry, (then, then))
    return folder


def test_resume_point_of_a_live_playlist(tmp_path: Path):
    folder = stream_folder(tmp_path, "cam")
    # Three segments from 7: the next is 8 + 2; the one discontinuity removed with them.
    assert resume_point(folder, "index.m3u8") == ResumePoint(10, 3)
    assert resume_point(tmp_path / "nothing", "index.m3u8") is None


def test_an_unreadable_playlist_starts_at_zero_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    (tmp_path / "index.m3u8").write_text("not a playlist")
    assert resume_point(tmp_path, "index.m3u8") is None
    assert "previous playlist unreadable" in caplog.text


def test_claim_reads_clears_and_marks(tmp_path: Path):
    folder = stream_folder(tmp_path, "cam", marked=False)
    (folder / "keep.txt").write_text("not ours")
    assert claim_stream_folder(folder, "index.m3u8") == ResumePoint(10, 3)
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "keep.txt"]


def test_only_refservers_own_folders_and_files_expire(tmp_path: Path):
    now = 1_000_000.0
    stream_folder(tmp_path, "old", age=120)
    stream_folder(tmp_path, "recent", age=30)
    stream_folder(tmp_path, "live", age=500)
    stream_folder(tmp_path, "users", marked=False, age=500)
    mixed = stream_folder(tmp_path, "mixed", age=500)
    (mixed / "notes.txt").write_text("someone else's")
    os.utime(mixed / "notes.txt", (now, now))  # not ours: its time does not count either
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")

    expired = expire_stream_folders(tmp_path, {"live"}, now=now, expire_after=60)
    assert sorted(expired) == ["mixed", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere",
        "link",
        "live",
        "mixed",
        "recent",
        "users",
    ]
    assert [p.name for p in (tmp_path / "mixed").iterdir()] == ["notes.txt"]
    assert len(list((tmp_path / "users").iterdir())) == 2


def test_the_registry_expires_gone_streams_folders(tmp_path: Path):
    clock_now = [1_000_000.0]
    registry = StreamRegistry(tmp_path, HlsOptions(), expire_after=60, clock=lambda: clock_now[0])
    stream_folder(tmp_path, "gone", age=61)
    stream_folder(tmp_path, "back", age=61)
    registry.claim("back", PublisherInfo("127.0.0.1:1", "rtmp", clock_now[0], 1))
    registry.tick()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back"]
    assert registry.get("back") is not None


def test_a_held_temporary_folder_is_left_alone_and_a_free_one_removed(tmp_path: Path):
    held = TemporaryHlsFolder(tmp_path)
    assert held.path.name.startswith("refserver-hls-")
    assert (held.path / LOCK).is_file()
    stale = tmp_path / "refserver-hls-stale"
    stale.mkdir()
    (stale / LOCK).write_text("12345\n")
    (stale / "cam").mkdir()
    foreign = tmp_path / "refserver-hls-without-lock"  # not made by this refserver
    foreign.mkdir()

    assert remove_stale_temporary_folders(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([held.path.name, foreign.name])
    held.remove()
    assert sorted(p.name for p in tmp_path.iterdir()) == [foreign.name]


def test_a_killed_refservers_temporary_folder_is_removed_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from refserver.hls.folders import TemporaryHlsFolder\n"
        "folder = TemporaryHlsFolder(Path(sys.argv[1]))\n"
        "print(folder.path, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        path = Path(child.stdout.readline().strip())
        assert path.is_dir()
        assert remove_stale_temporary_folders(tmp_path) == []  # still running: still in use
        child.kill()  # SIGKILL: nothing of refserver's own runs to clean up
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert path.is_dir()
    with caplog.at_level(logging.INFO):
        assert remove_stale_temporary_folders(tmp_path) == [path]
    assert not path.exists()
    assert "stale HLS folder removed" in caplog.text
