"""Structured log lines, as text and as JSON."""

from __future__ import annotations

import io
import json
import logging

import pytest

from refserver import logs


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_lines_carry_the_fields(restore_root_logger: None):
    out = io.StringIO()
    logs.configure("text", "info", out)
    logging.getLogger("refserver.test").warning(
        "connection closed", extra={"peer": "127.0.0.1:5", "reason": "idle for 3 s"}
    )
    line = out.getvalue().strip()
    assert line.endswith(
        ' WARNING refserver.test connection closed peer=127.0.0.1:5 reason="idle for 3 s"'
    )


def test_json_lines(restore_root_logger: None):
    out = io.StringIO()
    logs.configure("json", "debug", out)
    logging.getLogger("refserver.test").info("publish started", extra={"stream": "cam"})
    entry = json.loads(out.getvalue())
    assert entry["level"] == "info"
    assert entry["logger"] == "refserver.test"
    assert entry["message"] == "publish started"
    assert entry["stream"] == "cam"
    assert entry["time"].endswith("+00:00")
