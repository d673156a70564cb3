"""Segment and playlist writes off the event loop: one writer thread per server.

The packager runs on the event loop; a write to disk may block for as long as the disk likes
(a full page cache, a slow or network file system), and every publisher and viewer of the server
would wait with it. So each stream's :class:`QueuedStorage` hands its writes and deletes to one
:class:`WriteQueue`, whose thread does them with the stream's own storage (a
:class:`~refserver.hls.storage.DirectoryStorage`, whose atomic rename is kept).

What stays true:

- **Order.** One thread takes the operations first in, first out, so every stream's files change
  in the order its packager asked. A segment is written before the playlist that lists it, so a
  playlist on disk never names a segment that is not on disk yet.
- **Newest playlist only.** A playlist write (the stream's ``latest_only`` names) replaces one of
  the same name still waiting: a reader only ever wants the newest, which moves to the back of
  the queue, after every segment it names. So each stream has at most one playlist waiting
  (two while files are missing, see below: the older may be the last that can be written).
- **Bounded.** Segment and init-segment bytes waiting are capped (``max_bytes``). A write that
  would go over the cap is dropped, never waited for: the loop must not block. What is already
  on disk or already queued is kept.
- **Never a playlist that lies.** A file whose write was dropped (over the cap) or failed (the
  disk is full, a permission) is *missing*: every later playlist of that stream naming it is not
  written, so the playlist on disk stays the last one whose files are all there. Once the window
  has slid past the missing files, playlists are written again (the player sees a gap in the
  media sequence, not a 404). A playlist that replaced a waiting one before a file it names
  failed is held back too, so the disk may keep an older playlist still: staler, never wrong.
  The stream is marked meanwhile (:attr:`QueuedStorage.failure`),
  the first drop or error of each episode is logged with the stream's name, and other streams
  go on untouched.
- **Shutdown flushes.** :meth:`WriteQueue.close` does everything still queued, then ends the
  thread; writes after it are done at once by the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from refserver.hls.storage import Storage
from wire.hls import parse
from wire.hls.errors import PlaylistError

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Segment bytes that may wait for the disk: some 25 s of 20 streams at 1 MB/s between them,
far more than a healthy disk ever holds back, and little enough memory to keep."""


class _Kind(enum.Enum):
    WRITE = "write"
    DELETE = "delete"
    MARK = "mark"  # nothing to do: tells whoever waits that what came before is done


@dataclass(slots=True, eq=False)
class _Operation:
    storage: QueuedStorage
    kind: _Kind
    name: str = ""
    data: bytes = b""
    counted: int = 0
    """Bytes this operation holds against the cap (0 for playlists, which are not capped)."""
    cancelled: bool = False
    waiters: list[Callable[[], object]] = field(default_factory=list, repr=False)
    """For a mark: called once what came before it is done."""


class WriteQueue:
    """One thread doing the storage writes of every stream of a server, in order.

    The thread starts with the first operation queued. ``max_bytes`` caps the segment bytes
    waiting (see the module's docstring for what is dropped past it).
    """

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str = "hls writer") -> None:
        if max_bytes <= 0:
            raise ValueError(f"HLS write queue of {max_bytes} bytes")
        self.max_bytes = max_bytes
        self.name = name
        self._cond = threading.Condition()
        self._queue: deque[_Operation] = deque()
        self._bytes = 0
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def storage(
        self, backing: Storage, *, stream: str, latest_only: Collection[str] = ()
    ) -> QueuedStorage:
        """A stream's storage whose changes go through this queue to ``backing``;
        ``latest_only`` names its playlists (see the module's docstring)."""
        return QueuedStorage(self, backing, stream=stream, latest_only=latest_only)

    @property
    def pending_bytes(self) -> int:
        """Segment bytes queued and not yet written."""
        with self._cond:
            return self._bytes

    @property
    def closed(self) -> bool:
        return self._closed

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is done; False when ``timeout`` passed first.
        For tests and shutdown: never call it on the event loop while serving."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Do everything still queued, then end the thread. Later writes are done at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.error(
                    "HLS writes still pending at shutdown",
                    extra={"operations": len(self._queue), "bytes": self._bytes},
                )

    # Used by QueuedStorage, under the lock.

    def _put(self, operation: _Operation) -> None:
        self._queue.append(operation)
        self._bytes += operation.counted
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _cancel(self, operation: _Operation) -> None:
        operation.cancelled = True
        self._bytes -= operation.counted
        operation.counted = 0

    # The writer thread.

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    return  # closed, and everything done
                operation = self._queue.popleft()
                if operation.cancelled:
                    continue
                self._busy = True
            try:
                operation.storage._perform(operation)
            except BaseException:  # a bug of ours; the thread must outlive it
                logger.exception("HLS writer failed", extra={"stream": operation.storage.stream})
            finally:
                with self._cond:
                    self._bytes -= operation.counted
                    operation.storage._performed(operation)
                    self._busy = False
                    self._cond.notify_all()


class QueuedStorage:
    """One stream's :class:`~refserver.hls.storage.Storage` whose writes and deletes are done by
    a :class:`WriteQueue`'s thread; reads see what is queued as if it were done."""

    def __init__(
        self,
        queue: WriteQueue,
        backing: Storage,
        *,
        stream: str,
        latest_only: Collection[str] = (),
    ) -> None:
        self.queue = queue
        self.backing = backing
        self.stream = stream
        self.latest_only = frozenset(latest_only)
        self.failure: str | None = None
        """Why files of this stream are missing on disk (and its playlist held back); None when
        every file asked for is there."""
        self.writes_dropped = 0
        """Writes not done: over the queue's cap, or playlists naming a missing file."""
        self.write_errors = 0
        """Writes the disk refused."""
        self._latest: dict[str, _Operation] = {}  # the last queued operation on each name
        self._mark: _Operation | None = None  # a mark nothing of this stream was queued after
        self._missing: set[str] = set()

    # Storage

    def write(self, name: str, data: bytes) -> None:
        queue = self.queue
        with queue._cond:
            if queue.closed:
                self.backing.write(name, data)
                return
            latest = name in self.latest_only
            waiting = self._latest.get(name)
            if latest and waiting is not None and waiting.kind is _Kind.WRITE and not self._missing:
                # With files missing the waiting playlist may be the last that can be written.
                queue._cancel(waiting)
            counted = 0 if latest else len(data)
            if counted and queue._bytes + counted > queue.max_bytes:
                self._drop(
                    name, f"the HLS writer is {queue._bytes} bytes behind (cap {queue.max_bytes})"
                )
                return
            operation = _Operation(self, _Kind.WRITE, name, bytes(data), counted)
            self._latest[name] = operation
            self._mark = None
            queue._put(operation)

    def delete(self, name: str) -> None:
        queue = self.queue
        with queue._cond:
            if queue.closed:
                self.backing.delete(name)
                return
            operation = _Operation(self, _Kind.DELETE, name)
            self._latest[name] = operation
            self._mark = None
            queue._put(operation)

    def read(self, name: str) -> bytes | None:
        with self.queue._cond:
            waiting = self._latest.get(name)
            if waiting is not None:
                return waiting.data if waiting.kind is _Kind.WRITE else None
        return self.backing.read(name)

    def names(self) -> list[str]:
        with self.queue._cond:
            waiting = dict(self._latest)
        names = set(self.backing.names())
        for name, operation in waiting.items():
            if operation.kind is _Kind.WRITE:
                names.add(name)
            else:
                names.discard(name)
        return sorted(names)

    # Waiting for the disk

    def when_written(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (from the writer thread) once everything this stream queued so far
        is done; at once when nothing is waiting."""
        queue = self.queue
        with queue._cond:
            if not self._latest or queue.closed:
                pending = False
            else:
                # Waiters with nothing of the stream queued between them share one mark: a
                # crowd of playlist requests adds one operation, not one each.
                if self._mark is None:
                    self._mark = _Operation(self, _Kind.MARK)
                    queue._put(self._mark)
                self._mark.waiters.append(callback)
                pending = True
        if not pending:
            callback()

    async def written(self) -> None:
        """Return once everything this stream queued so far is done (or dropped)."""
        with self.queue._cond:
            if not self._latest:
                return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not future.done():
                future.set_result(None)

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(settle)

        self.when_written(wake)
        await future

    # The writer thread's side

    def _perform(self, operation: _Operation) -> None:
        if operation.kind is _Kind.MARK:
            with self.queue._cond:
                if self._mark is operation:
                    self._mark = None
                waiters = list(operation.waiters)
            for waiter in waiters:
                try:
                    waiter()
                except Exception:
                    logger.exception("HLS write waiter failed", extra={"stream": self.stream})
            return
        name = operation.name
        if operation.kind is _Kind.DELETE:
            self.backing.delete(name)
            return
        if name in self.latest_only:
            with self.queue._cond:
                missing = set(self._missing)
            named = missing & _named_files(operation.data) if missing else set()
            if named:
                with self.queue._cond:
                    self.writes_dropped += 1
                return  # the playlist on disk stays the last one whose files are all there
        try:
            self.backing.write(name, operation.data)
        except Exception as exc:
            with self.queue._cond:
                self.write_errors += 1
                self._drop(name, f"writing {name} failed: {_plain(exc)}", count=False)
            return
        with self.queue._cond:
            self._missing.discard(name)
            if name in self.latest_only:
                self._recovered()

    def _performed(self, operation: _Operation) -> None:
        """Under the lock, after the operation: reads now go to the backing storage."""
        if self._latest.get(operation.name) is operation:
            del self._latest[operation.name]
        if operation.kind is _Kind.DELETE:
            self._missing.discard(operation.name)
            self._recovered()

    def _drop(self, name: str, reason: str, *, count: bool = True) -> None:
        """Under the lock: ``name`` will not be on disk; the first of an episode is logged."""
        if count:
            self.writes_dropped += 1
        if name not in self.latest_only:
            self._missing.add(name)
        if self.failure is None:
            logger.error(
                "HLS files missing; the playlist is held back until the window passes them",
                extra={"stream": self.stream, "file": name, "reason": reason},
            )
        self.failure = reason

    def _recovered(self) -> None:
        if self.failure is not None and not self._missing:
            self.failure = None
            logger.info("HLS files complete on disk again", extra={"stream": self.stream})


def _named_files(playlist: bytes) -> set[str]:
    """The segments and init segments a media playlist names (none when it does not parse)."""
    try:
        parsed = parse(playlist)
    except PlaylistError:
        return set()
    names = {segment.uri for segment in parsed.segments}
    names |= {s.init_section.uri for s in parsed.segments if s.init_section is not None}
    return names


def _plain(exc: BaseException) -> str:
    """An OSError's words without its errno number; other errors as they print."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
