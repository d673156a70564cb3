"""The HLS writer thread: order, playlists after their segments, the cap, errors, shutdown.

The backing storages here are in memory and slowed or held by the test (a gate), so every case
is deterministic: nothing depends on how fast a disk is.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import threading
from pathlib import Path

import pytest

from refserver.hls import Frame, HlsOptions, HlsSegmenter, MemoryStorage
from refserver.hls.writeback import QueuedStorage, WriteQueue
from refserver.streams import StreamRegistry
from tests.unit.refserver.hls.streams import AUDIO, VIDEO, av_frames, video_frames
from wire.hls import parse

PLAYLIST = "index.m3u8"
WAIT = 5.0
"""Seconds a test waits for the writer thread before it fails (it takes milliseconds)."""


class Gate:
    """Holds every write of the storages that share it until :meth:`open`."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def open(self) -> None:
        self.event.set()

    def wait(self) -> None:
        assert self.event.wait(WAIT), "the test never opened the gate"


class SlowStorage(MemoryStorage):
    """Memory storage behind a gate that records the thread of each write, and checks at every
    playlist write that each file the playlist names is already stored."""

    def __init__(self, gate: Gate | None = None, fail: set[str] | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.fail = fail or set()
        self.threads: set[int] = set()
        self.unlisted: list[tuple[str, str]] = []
        """(playlist version's first line naming a missing file, the missing file)."""

    def write(self, name: str, data: bytes) -> None:
        if self.gate is not None:
            self.gate.wait()
        self.threads.add(threading.get_ident())
        if name in self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        if name == PLAYLIST:
            playlist = parse(data)
            named = [s.uri for s in playlist.segments]
            named += [s.init_section.uri for s in playlist.segments if s.init_section]
            self.unlisted += [(name, uri) for uri in named if uri not in self.files]
        super().write(name, data)


def playlist_bytes(*segments: str, media_sequence: int = 0) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}")
    for name in segments:
        lines += ["#EXTINF:2.000,", name]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def queue():
    queue = WriteQueue()
    yield queue
    queue.close(WAIT)


def stream_storage(queue: WriteQueue, backing: MemoryStorage, name: str = "cam") -> QueuedStorage:
    return queue.storage(backing, stream=name, latest_only={PLAYLIST})


def test_writes_leave_the_callers_thread_and_keep_their_order(queue):
    gate = Gate()
    backings = {name: SlowStorage(gate) for name in ("a", "b")}
    storages = {name: stream_storage(queue, backing, name) for name, backing in backings.items()}
    for n in range(5):
        for name, storage in storages.items():
            storage.write(f"seg{n}.ts", f"{name}{n}".encode())
    storages["a"].delete("seg0.ts")
    # Nothing has reached the backing storage: the caller did not wait for the (held) disk.
    assert all(backing.writes == [] for backing in backings.values())
    gate.open()
    assert queue.flush(WAIT)
    for backing in backings.values():
        assert backing.writes == [f"seg{n}.ts" for n in range(5)]
        assert backing.threads
        assert threading.get_ident() not in backing.threads
    assert backings["a"].names() == [f"seg{n}.ts" for n in range(1, 5)]
    assert backings["b"].read("seg4.ts") == b"b4"


def test_reads_see_queued_writes_and_deletes_before_the_disk_does(queue):
    gate = Gate()
    backing = SlowStorage(gate)
    backing.files["old.ts"] = b"old"
    storage = stream_storage(queue, backing)
    storage.write("seg0.ts", b"zero")
    storage.delete("old.ts")
    assert storage.read("seg0.ts") == b"zero"
    assert storage.read("old.ts") is None
    assert storage.names() == ["seg0.ts"]
    assert backing.names() == ["old.ts"]
    gate.open()
    assert queue.flush(WAIT)
    assert storage.names() == backing.names() == ["seg0.ts"]


def packaged(storage, frames: list[Frame], **options: object) -> HlsSegmenter:
    now = [1_700_000_000.0]
    segmenter = HlsSegmenter(
        storage,
        video=VIDEO,
        audio=AUDIO,
        options=HlsOptions(**options),  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    for frame in frames:
        now[0] = 1_700_000_000.0 + frame.dts / 90000
        segmenter.push(frame)
    segmenter.finish(endlist=True)
    return segmenter


@pytest.mark.parametrize("segment_format", ["mpegts", "fmp4"])
def test_a_playlist_on_disk_never_names_a_file_not_yet_there(queue, segment_format):
    # A slow disk (every write held until the packager has queued them all), and a window
    # that slides: the playlist version written at every step names only stored files, and the
    # files end exactly as a packager writing on its own thread leaves them.
    frames = list(av_frames(30 * 12))
    gate = Gate()
    backing = SlowStorage(gate)
    packaged(stream_storage(queue, backing), frames, window=3, segment_format=segment_format)
    gate.open()
    assert queue.flush(WAIT)
    direct = SlowStorage()
    packaged(direct, frames, window=3, segment_format=segment_format)
    assert backing.unlisted == []
    assert direct.unlisted == []
    assert backing.files == direct.files
    assert backing.writes.count(PLAYLIST) >= 1
    # Segments went to disk in the order they were made.
    segments = [name for name in backing.writes if name != PLAYLIST]
    assert segments == [name for name in direct.writes if name != PLAYLIST]


def test_only_the_newest_waiting_playlist_is_written_after_its_segments(queue):
    gate = Gate()
    backing = SlowStorage(gate)
    storage = stream_storage(queue, backing)
    storage.write("seg0.ts", b"0")
    storage.write(PLAYLIST, playlist_bytes("seg0.ts"))
    storage.write("seg1.ts", b"1")
    storage.write(PLAYLIST, playlist_bytes("seg0.ts", "seg1.ts"))
    assert storage.read(PLAYLIST) == playlist_bytes("seg0.ts", "seg1.ts")
    gate.open()
    assert queue.flush(WAIT)
    assert backing.writes == ["seg0.ts", "seg1.ts", PLAYLIST]
    assert backing.unlisted == []
    assert backing.read(PLAYLIST) == playlist_bytes("seg0.ts", "seg1.ts")


def test_over_the_cap_a_segment_is_dropped_and_no_playlist_names_it(caplog):
    queue = WriteQueue(max_bytes=100)
    gate = Gate()
    backing = SlowStorage(gate)
    other_backing = SlowStorage(gate)
    storage = stream_storage(queue, backing)
    other = stream_storage(queue, other_backing, "other")
    try:
        with caplog.at_level(logging.INFO, logger="refserver.hls.writeback"):
            storage.write("seg0.ts", bytes(60))
            storage.write(PLAYLIST, playlist_bytes("seg0.ts"))
            storage.write("seg1.ts", bytes(60))  # 120 bytes would wait: dropped at once
            assert queue.pending_bytes == 60
            assert storage.failure is not None
            assert "behind" in storage.failure
            assert storage.writes_dropped == 1
            storage.write(PLAYLIST, playlist_bytes("seg0.ts", "seg1.ts"))
            gate.open()
            assert queue.flush(WAIT)
            # What was queued before went to disk; the playlist naming seg1 did not.
            assert backing.files == {"seg0.ts": bytes(60), PLAYLIST: playlist_bytes("seg0.ts")}
            assert storage.writes_dropped == 2
            # The stream goes on: the other stream's writes fit again now the queue drained.
            other.write("seg0.ts", bytes(30))
            other.write(PLAYLIST, playlist_bytes("seg0.ts"))
            # seg1 leaves the window and is deleted: playlists are written again.
            storage.write("seg2.ts", bytes(30))
            storage.write(PLAYLIST, playlist_bytes("seg2.ts", media_sequence=2))
            storage.delete("seg1.ts")
            assert queue.flush(WAIT)
        assert backing.read(PLAYLIST) == playlist_bytes("seg2.ts", media_sequence=2)
        assert backing.unlisted == []
        assert other_backing.unlisted == []
        assert other_backing.read(PLAYLIST) == playlist_bytes("seg0.ts")
        assert other.failure is None
        assert storage.failure is None
        [dropped] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert dropped.stream == "cam"
        assert dropped.file == "seg1.ts"
        assert any(r.getMessage() == "HLS files complete on disk again" for r in caplog.records)
    finally:
        queue.close(WAIT)


def test_playlists_are_not_capped_so_the_last_one_always_goes_out():
    queue = WriteQueue(max_bytes=10)
    backing = SlowStorage()
    storage = stream_storage(queue, backing)
    try:
        storage.write(PLAYLIST, playlist_bytes())  # longer than the whole cap
        assert queue.flush(WAIT)
        assert backing.read(PLAYLIST) == playlist_bytes()
        assert storage.failure is None
    finally:
        queue.close(WAIT)


def test_a_full_disk_fails_one_streams_files_and_no_other(queue, caplog):
    gate = Gate()  # held: the newest playlist replaces the waiting ones, as on a slow disk
    full = SlowStorage(gate, fail={"seg1.ts"})
    healthy = SlowStorage(gate)
    storage = stream_storage(queue, full, "full")
    other = stream_storage(queue, healthy, "healthy")
    with caplog.at_level(logging.ERROR, logger="refserver.hls.writeback"):
        for n in range(3):
            names = [f"seg{k}.ts" for k in range(n + 1)]
            for target in (storage, other):
                target.write(f"seg{n}.ts", bytes([n]) * 10)
                target.write(PLAYLIST, playlist_bytes(*names))
        gate.open()
        assert queue.flush(WAIT)
    # No playlist naming seg1 reached the disk; the segments after it did.
    assert full.names() == ["seg0.ts", "seg2.ts"]
    assert full.unlisted == []
    assert storage.write_errors == 1
    assert storage.writes_dropped == 1
    assert storage.failure == "writing seg1.ts failed: No space left on device"
    [logged] = caplog.records
    assert logged.stream == "full"
    assert logged.file == "seg1.ts"
    # The other stream, and the writer thread, carried on.
    assert healthy.read(PLAYLIST) == playlist_bytes("seg0.ts", "seg1.ts", "seg2.ts")
    assert other.failure is None
    assert other.write_errors == 0
    # Once the window has slid past seg1 (and it is deleted), playlists are written again.
    storage.write("seg3.ts", b"3")
    storage.write(PLAYLIST, playlist_bytes("seg2.ts", "seg3.ts", media_sequence=2))
    storage.delete("seg1.ts")
    assert queue.flush(WAIT)
    assert full.read(PLAYLIST) == playlist_bytes("seg2.ts", "seg3.ts", media_sequence=2)
    assert full.unlisted == []
    assert storage.failure is None


def test_a_bug_in_a_write_leaves_the_thread_running(queue, caplog):
    class Broken(MemoryStorage):
        def delete(self, name: str) -> None:
            raise RuntimeError("bug")

    broken = stream_storage(queue, Broken())
    backing = SlowStorage()
    healthy = stream_storage(queue, backing)
    with caplog.at_level(logging.ERROR, logger="refserver.hls.writeback"):
        broken.delete("seg0.ts")
        healthy.write("seg0.ts", b"0")
        assert queue.flush(WAIT)
    assert backing.read("seg0.ts") == b"0"
    assert [r.getMessage() for r in caplog.records] == ["HLS writer failed"]


def test_close_flushes_every_pending_write_then_writes_inline():
    queue = WriteQueue()
    gate = Gate()
    backing = SlowStorage(gate)
    storage = stream_storage(queue, backing)
    for n in range(20):
        storage.write(f"seg{n}.ts", bytes(1000))
    storage.write(PLAYLIST, playlist_bytes(*(f"seg{n}.ts" for n in range(20))))
    threading.Timer(0.05, gate.open).start()
    queue.close(WAIT)
    assert len(backing.names()) == 21
    assert backing.unlisted == []
    storage.write("late.ts", b"x")  # after close: on the caller's thread, at once
    assert backing.read("late.ts") == b"x"
    assert threading.get_ident() in backing.threads


def test_written_returns_once_the_streams_files_are_on_disk(queue):
    gate = Gate()
    backing = SlowStorage(gate)
    storage = stream_storage(queue, backing)

    async def scenario() -> None:
        await storage.written()  # nothing queued: at once
        storage.write("seg0.ts", b"0")
        storage.write(PLAYLIST, playlist_bytes("seg0.ts"))
        waiting = asyncio.ensure_future(storage.written())
        await asyncio.sleep(0)
        assert not waiting.done()
        assert backing.files == {}
        gate.open()
        await asyncio.wait_for(waiting, WAIT)
        assert backing.read(PLAYLIST) == playlist_bytes("seg0.ts")

    asyncio.run(scenario())


def test_the_registry_packages_through_its_writer_and_close_flushes(tmp_path: Path, monkeypatch):
    # Through the registry as the server builds it: the packager's writes happen on the writer
    # thread, not the caller's (the event loop), and shutdown leaves the ended playlist on disk.
    from refserver.hls import storage as storage_module

    threads: set[int] = set()
    real_write = storage_module.DirectoryStorage.write

    def recording_write(self, name: str, data: bytes) -> None:
        threads.add(threading.get_ident())
        real_write(self, name, data)

    monkeypatch.setattr(storage_module.DirectoryStorage, "write", recording_write)
    registry = StreamRegistry(tmp_path, HlsOptions(), writer=WriteQueue())
    stream = registry.prepare("cam")
    stream.configure(VIDEO, None)
    for frame in video_frames(30 * 3):
        stream.push(frame, 100)
    registry.close()
    assert threads
    assert threading.get_ident() not in threads
    playlist = parse((tmp_path / "cam" / PLAYLIST).read_bytes())
    assert playlist.endlist
    assert [s.uri for s in playlist.segments] == ["segment0.ts", "segment1.ts", "segment2.ts"]
    assert all((tmp_path / "cam" / s.uri).is_file() for s in playlist.segments)


def test_a_stream_whose_disk_refuses_a_segment_says_so_in_the_api(tmp_path: Path, monkeypatch):
    from refserver.hls import storage as storage_module

    real_write = storage_module.DirectoryStorage.write

    def full_for_cam(self, name: str, data: bytes) -> None:
        if self.path.name == "cam" and name == "segment1.ts":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, name, data)

    monkeypatch.setattr(storage_module.DirectoryStorage, "write", full_for_cam)
    registry = StreamRegistry(tmp_path, HlsOptions(), writer=WriteQueue())
    streams = [registry.prepare(name) for name in ("cam", "other")]
    for stream in streams:
        stream.configure(VIDEO, None)
    writer = registry.writer
    assert writer is not None
    for frame in video_frames(30 * 3 + 1):
        for stream in streams:
            stream.push(frame, 100)
        assert writer.flush(WAIT)  # a quick disk: no playlist waits long enough to be replaced
    cam, other = (stream.describe(0.0)["hls"] for stream in streams)
    assert isinstance(cam, dict)
    assert isinstance(other, dict)
    assert cam["write_failure"] == "writing segment1.ts failed: No space left on device"
    assert other["write_failure"] is None
    listed = parse((tmp_path / "cam" / PLAYLIST).read_bytes())
    assert [s.uri for s in listed.segments] == ["segment0.ts"]
    listed = parse((tmp_path / "other" / PLAYLIST).read_bytes())
    assert [s.uri for s in listed.segments] == ["segment0.ts", "segment1.ts", "segment2.ts"]
    registry.close()


def test_waiters_with_nothing_queued_between_them_share_one_mark(queue):
    gate = Gate()
    storage = stream_storage(queue, SlowStorage(gate))
    storage.write("seg0.ts", b"0")
    woken: list[int] = []
    for n in range(3):
        storage.when_written(functools.partial(woken.append, n))
    storage.write("seg1.ts", b"1")
    storage.when_written(lambda: woken.append(3))
    # seg0 (perhaps taken by the thread, held at the gate), one mark, seg1, one mark.
    queued = [op.name or op.kind.value for op in queue._queue]
    if queued[:1] == ["seg0.ts"]:
        queued.pop(0)
    assert queued == ["mark", "seg1.ts", "mark"]
    assert woken == []
    gate.open()
    assert queue.flush(WAIT)
    assert woken == [0, 1, 2, 3]
    storage.when_written(lambda: woken.append(4))  # nothing waiting: at once
    assert woken == [0, 1, 2, 3, 4]
