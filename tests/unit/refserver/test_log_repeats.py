"""Identical log records within a window are written once, then counted: a flood of the same
error cannot fill the disk, and the count says how bad it was."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import logging
from collections.abc import Iterator

import pytest

from refserver import logs


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, created: float, **fields: object) -> logging.LogRecord:
    entry = logging.makeLogRecord(
        {"name": "refserver.test", "levelno": logging.ERROR, "levelname": "ERROR", "msg": message}
    )
    entry.created = created
    entry.__dict__.update(fields)
    return entry


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_repeats_within_the_window_are_counted_then_reported_once():
    target = Collect()
    handler = logs.RepeatCollapsingHandler(target, window=60.0)
    for second in range(1000):
        handler.handle(record("accept failed", 1000.0 + second * 0.01, error="EMFILE"))
    handler.handle(record("publish started", 1005.0, stream="a"))
    handler.handle(record("publish started", 1005.5, stream="b"))  # other fields: not a repeat
    assert [r.getMessage() for r in target.records] == [
        "accept failed",
        "publish started",
        "publish started",
    ]
    # The window closes when a later record comes in, or on flush.
    handler.handle(record("accept failed", 1061.0, error="EMFILE"))
    messages = [r.getMessage() for r in target.records]
    assert messages[3:] == ["accept failed (repeated 999 times in 60 s)", "accept failed"]
    summary = target.records[3]
    assert summary.repeated == 999  # type: ignore[attr-defined]
    assert summary.error == "EMFILE"  # type: ignore[attr-defined]
    assert summary.exc_info is None


def test_flush_reports_what_is_pending_and_forgets_quiet_keys():
    target = Collect()
    handler = logs.RepeatCollapsingHandler(target, window=10.0)
    for _ in range(3):
        handler.handle(record("disk full", 100.0))
    handler.flush(now=105.0)  # the window is still open: nothing yet
    assert len(target.records) == 1
    handler.flush(now=111.0)
    assert [r.getMessage() for r in target.records] == [
        "disk full",
        "disk full (repeated 2 times in 10 s)",
    ]
    handler.flush(now=200.0)
    assert len(target.records) == 2  # nothing more was repeated


def test_the_event_loops_accept_errors_are_collapsed(restore_root_logger: None):
    """asyncio reports EMFILE on accept through the loop's exception handler, once a second per
    listener, with a traceback each time; through refserver's handler it is one line a window."""
    out = io.StringIO()
    logs.configure("json", "info", out)

    async def flood() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(logs.log_loop_exception)
        for _ in range(500):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                }
            )

    asyncio.run(flood())
    logs.flush_repeats()
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["message"] for e in entries] == ["socket.accept() out of system resource"]
    assert entries[0]["logger"] == "asyncio"
    assert entries[0]["error"] == "OSError: [Errno 24] Too many open files"
    # The remaining 499 are reported when their window closes.
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logs.RepeatCollapsingHandler)
    handler.flush(now=float("inf"))
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert entries[1]["repeated"] == 499
    assert len(out.getvalue()) < 4000
