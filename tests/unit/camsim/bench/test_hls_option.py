"""``--hls`` is checked before anything runs: a template per stream, a path only on the local
refserver."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from camsim.bench.cli import bench

SERVER = ["--rtmp", "rtmp://127.0.0.1:1/live/s{n}", "--rtmps", "rtmps://127.0.0.1:2/live/s{n}"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--hls", "http://127.0.0.1:8080/live/index.m3u8"], "put {name} in the URL"),
        (["--hls", "rtmp://127.0.0.1/live/{name}"], "expected an http:// or https:// URL"),
        ([*SERVER, "--hls", "/live/{name}/index.m3u8"], "a path alone is for the local"),
    ],
)
def test_bad_hls_template_is_refused_with_the_reason(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(bench, ["rtmp-vs-rtmps", *arguments])
    assert result.exit_code == 2
    assert message in result.output
