from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_make_into_a_directory_then_probe(tmp_path: Path):
    code, out = run(
        "media",
        "make",
        "--size",
        "320x240",
        "--fps",
        "10",
        "--duration",
        "2",
        "--gop",
        "1",
        "--bitrate",
        "300k",
        "--out",
        str(tmp_path),
    )
    assert code == 0, out
    path = tmp_path / "h264-320x240-10fps-2s.mp4"
    assert path.exists()
    assert "320x240 @ 10 fps  20 frames" in out
    assert "2 keyframes, every 10 frames (1.00 s)" in out
    assert "stamps 20/20 frames (100%), indexes 0..19 in order" in out

    code, out = run("media", "probe", "--json", str(path))
    assert code == 0, out
    report = json.loads(out)
    assert report["video"]["codec"] == "h264"
    assert report["video"]["profile"] == "High"
    assert report["video"]["stamps"]["coverage"] == 1.0
    assert report["video"]["gop"]["interval_frames_min"] == 10
    assert report["audio"]["sample_rate"] == 48_000
    assert report["audio"]["channels"] == 2
    assert report["duration"] == pytest.approx(2.0)


def test_make_without_out_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAMSIM_CACHE_DIR", str(tmp_path))
    args = ("media", "make", "--size", "160x120", "--duration", "1", "--audio", "none")
    code, first = run(*args)
    assert code == 0, first
    (cached,) = tmp_path.glob("*.mp4")
    mtime = cached.stat().st_mtime_ns
    code, second = run(*args)
    assert code == 0
    assert cached.stat().st_mtime_ns == mtime  # reused, not remade
    assert first == second


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "big"], "expected WIDTHxHEIGHT"),
        (["--size", "321x240"], "need even sizes"),
        (["--fps", "abc"], "expected e.g. 30, 29.97 or 30000/1001"),
        (["--bitrate", "fast"], "expected e.g. 2M, 2000k or 2000000"),
        (["--duration", "-3"], "must be positive"),
    ],
)
def test_make_rejects_bad_options(args: list[str], message: str):
    code, out = run("media", "make", *args)
    assert code == 2
    assert message in out


def test_probe_of_a_non_media_file_is_a_clean_error(tmp_path: Path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00" * 100)
    code, out = run("media", "probe", str(path))
    assert code == 1
    assert "Error:" in out
    assert "Traceback" not in out
