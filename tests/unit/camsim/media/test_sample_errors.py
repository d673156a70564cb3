"""Samples that cannot be read or written are named, with the reason in plain words, and a killed
run's half-written sample does not outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest

from camsim.media.loader import LoaderError, describe_error, load
from camsim.media.make import SampleError, make_sample
from tests.conftest import SMALL_SPEC

TINY = SMALL_SPEC.with_changes(duration=Fraction(1, 5), audio=False)


def test_unreadable_files_are_described_without_errno_numbers(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not media\n")
    cases = [
        (tmp_path / "absent.mp4", "no such file"),
        (notes, "not a media file FFmpeg can read (unknown or damaged format)"),
        (tmp_path, "it is a folder"),
    ]
    for path, words in cases:
        with pytest.raises(LoaderError) as caught:
            load(path)
        assert str(caught.value) == f"{path}: cannot open: {words}"
        assert "Errno" not in str(caught.value)


def test_describe_error_reads_ffmpeg_and_os_errors() -> None:
    assert describe_error(FileNotFoundError(2, "No such file or directory", "x")) == "no such file"
    assert describe_error(PermissionError(13, "Permission denied")) == "permission denied"
    assert describe_error(OSError(5, "Input/output error")) == "input/output error"
    invalid = av.InvalidDataError(1094995529, "Invalid data found when processing input")
    assert describe_error(invalid).startswith("not a media file FFmpeg can read")


def test_an_unwritable_destination_is_a_sample_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    out = blocker / "sample.mp4"
    with pytest.raises(SampleError) as caught:
        make_sample(TINY, out)
    assert str(caught.value) == f"cannot write {out}: a part of its path is not a folder"


def test_the_media_command_reports_it_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "sample.mp4"
    arguments = ["media", "make", "--size", "160x120", "--duration", "0.2", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", "from camsim.cli import main; main()", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: cannot write {out}: a part of its path is not a folder"


def test_a_killed_runs_partial_file_is_removed_by_the_next(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = tmp_path / "sample.mp4"
    orphan = tmp_path / f".sample.mp4.{int(finished.stdout)}.partial"
    orphan.write_bytes(b"half a sample of a process that is gone")
    # A process that still runs may still be writing its own: it is left alone.
    running = tmp_path / f".sample.mp4.{os.getppid()}.partial"
    running.write_bytes(b"being written")
    make_sample(TINY, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [running.name, "sample.mp4"]
    assert out.stat().st_size > 1000
