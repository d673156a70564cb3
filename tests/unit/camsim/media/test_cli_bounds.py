"""``camsim media make`` refuses sizes, durations and bitrates no sample should have, saying the
bound, before it encodes anything."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from camsim.cli import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--size", "16384x8640"], "at most 8192x4320 (the largest picture of H.264 level 6.2)"),
        (["--duration", "3601"], "'3601': at most 3600 s (samples are looped)"),
        (["--bitrate", "0"], "'0': must be between 8k and 1000M bits per second"),
        (["--bitrate", "5G"], "expected e.g. 2M, 2000k or 2000000"),
        (["--audio-bitrate", "1"], "'1': must be between 8k and 1000M bits per second"),
        (["--bitrate", "1e999"], "expected e.g. 2M, 2000k or 2000000"),
    ],
)
def test_out_of_bounds_is_a_usage_error(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["media", "make", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
