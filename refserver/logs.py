"""Structured logs: a message plus fields, as ``key=value`` text or one JSON object a line.

Callers pass the fields with ``extra``::

    logger.warning("connection closed", extra={"peer": "127.0.0.1:50000", "reason": "..."})

A record identical to one written less than :data:`REPEAT_WINDOW` seconds before (same logger,
level, message, fields and exception type) is not written again but counted, and the count goes
out as one line, ``... (repeated N times in 60 s)`` with a ``repeated`` field, when the window
closes: a fault that repeats every millisecond costs a line a minute, not the disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

REPEAT_WINDOW = 60.0
"""Seconds during which identical records are counted instead of written."""
MAX_REPEAT_KEYS = 1024
"""Open windows kept at most; the oldest are closed early beyond that (bounded memory)."""

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a record was logged with."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``2025-01-01T00:00:00.000+00:00 INFO refserver.ingest publish started stream=test``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        for key, value in record_fields(record).items():
            text = str(value)
            if not text or any(c.isspace() or c in '"=' for c in text):
                text = json.dumps(text)
            parts.append(f"{key}={text}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(record_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_RepeatKey = tuple[str, int, str, str, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class _Window:
    opened: float
    last: logging.LogRecord
    repeated: int = 0


class RepeatCollapsingHandler(logging.Handler):
    """Passes records on to ``target``, except repeats of one passed less than ``window``
    seconds before: those are counted and reported as one record when the window closes (at
    the next record after it, or at :meth:`flush`)."""

    def __init__(
        self,
        target: logging.Handler,
        *,
        window: float = REPEAT_WINDOW,
        max_keys: int = MAX_REPEAT_KEYS,
    ) -> None:
        super().__init__()
        self.target = target
        self.window = window
        self.max_keys = max_keys
        # In the order the windows opened, so the ones to close are always at the front.
        self._windows: OrderedDict[_RepeatKey, _Window] = OrderedDict()

    def emit(self, record: logging.LogRecord) -> None:
        self._close_windows(record.created)
        key = _repeat_key(record)
        window = self._windows.get(key)
        if window is not None:
            window.repeated += 1
            window.last = record
            return
        self._windows[key] = _Window(record.created, record)
        self.target.handle(record)

    def flush(self, now: float | None = None) -> None:
        """Report the repeats of every window that has closed by ``now`` (default: now)."""
        self.acquire()  # records may come from other threads (aiohttp's executor, tests)
        try:
            self._close_windows(time.time() if now is None else now)
        finally:
            self.release()
        self.target.flush()

    def _close_windows(self, now: float) -> None:
        windows = self._windows
        while windows:
            key, window = next(iter(windows.items()))
            if now - window.opened < self.window and len(windows) <= self.max_keys:
                return
            del windows[key]
            if window.repeated:
                self.target.handle(self._summary(window))

    def _summary(self, window: _Window) -> logging.LogRecord:
        summary = logging.makeLogRecord(vars(window.last))
        summary.msg = (
            f"{window.last.getMessage()} (repeated {window.repeated} times in {self.window:g} s)"
        )
        summary.args = None
        summary.exc_info = summary.exc_text = None
        summary.repeated = window.repeated
        return summary


def _repeat_key(record: logging.LogRecord) -> _RepeatKey:
    fields = tuple(sorted((k, str(v)) for k, v in record_fields(record).items()))
    kind = type(record.exc_info[1]).__name__ if record.exc_info else ""
    return (record.name, record.levelno, record.getMessage(), kind, fields)


def flush_repeats() -> None:
    """Report the repeats whose window has closed (the server calls this once a second, so a
    flood that stops is still counted in the log within a window)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, RepeatCollapsingHandler):
            handler.flush()


def log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event loop exception handler that logs through :mod:`logging` with stable fields, so
    that repeats collapse: asyncio's own handler puts object reprs (with addresses and file
    descriptors) in the message, and reports e.g. ``socket.accept() out of system resource``
    (EMFILE) once a second per listener, each with a traceback."""
    exception = context.get("exception")
    fields: dict[str, object] = {}
    if isinstance(exception, BaseException):
        fields["error"] = f"{type(exception).__name__}: {exception}"
    for name in ("protocol", "transport", "handle", "future"):
        if context.get(name) is not None:
            fields[name] = type(context[name]).__name__
    exc_info = exception if isinstance(exception, BaseException) else None
    logging.getLogger("asyncio").error(
        str(context.get("message") or "unhandled exception in the event loop"),
        extra=fields,
        exc_info=exc_info,
    )


def configure(log_format: str, level: str, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in ``log_format`` ("text" or "json"),
    identical records within :data:`REPEAT_WINDOW` collapsed into a count."""
    output = logging.StreamHandler(stream or sys.stderr)
    output.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [RepeatCollapsingHandler(output)]
    root.setLevel(level.upper())
    # aiohttp's access log is one line per segment request: too much at info level.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
