"""The camera's RTP origin option: the first packet of each stream carries the timestamp and
sequence number it names, RTP-Info says so, and the stream counts on across both wraps."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

import pytest
from click.testing import CliRunner

from camsim.camera.cli import run as run_command
from camsim.camera.fleet import FleetConfig
from camsim.camera.origin import RtpOrigin, parse_origin
from tests.integration.camera.client import RtspTestClient
from tests.integration.camera.harness import running_fleet
from wire.rtp.sequence import seq_diff

VIDEO_RATE = 90_000
AUDIO_RATE = 48_000


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


def _wrapped_delta(later: int, earlier: int) -> int:
    """RFC 3550 §5.1 arithmetic: the difference modulo 2**32, as a signed number."""
    return ((later - earlier + (1 << 31)) % (1 << 32)) - (1 << 31)


def test_the_first_packets_start_at_the_origin_and_count_on_across_both_wraps(
    config: FleetConfig,
) -> None:
    # 0.3 s of video before the timestamp wrap, 4 packets before the sequence wrap.
    origin = RtpOrigin.before_wrap(0.3, VIDEO_RATE, 4)

    async def scenario(url: str) -> None:
        async with RtspTestClient(url) as client:
            _, _, play = await client.start_tcp()
            assert play.rtp_info is not None
            video_info = play.rtp_info.for_url(url + "/trackID=0")
            audio_info = play.rtp_info.for_url(url + "/trackID=1")
            assert video_info is not None
            assert audio_info is not None
            assert (video_info.seq, video_info.rtptime) == (origin.sequence, origin.timestamp)
            assert (audio_info.seq, audio_info.rtptime) == (origin.sequence, origin.timestamp)
            video = await client.rtp(0, 40)
            # Frames of another channel are queued again behind newer ones: audio as a set.
            audio = await client.rtp(2, 30)
            assert (video[0].sequence_number, video[0].timestamp) == (65532, (1 << 32) - 27_000)
            assert (65532, (1 << 32) - 27_000) in {(p.sequence_number, p.timestamp) for p in audio}
            sequences = [p.sequence_number for p in video]
            stamps = [p.timestamp for p in video]
            assert 0 in sequences  # the 16-bit wrap was crossed ...
            assert all(seq_diff(b, a) == 1 for a, b in itertools.pairwise(sequences))
            assert min(stamps) < 27_000 < max(stamps)  # ... and the 32-bit one
            steps = [_wrapped_delta(b, a) for a, b in itertools.pairwise(stamps)]
            assert all(0 <= step <= VIDEO_RATE for step in steps), steps
            # The media clock runs on across the wrap: 40 packets span their frames' time.
            assert _wrapped_delta(stamps[-1], stamps[0]) == sum(steps) > 0

    with running_fleet(config, rtp_origin=origin) as fleet:
        run(scenario(fleet.urls[0]))


def test_without_an_origin_each_session_draws_its_own(config: FleetConfig) -> None:
    async def first(url: str) -> tuple[int, int]:
        async with RtspTestClient(url) as client:
            _, _, play = await client.start_tcp()
            assert play.rtp_info is not None
            entry = play.rtp_info.entries[0]
            assert entry.seq is not None
            assert entry.rtptime is not None
            return entry.seq, entry.rtptime

    async def scenario(url: str) -> None:
        one, two = await first(url), await first(url)
        assert one != two

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


@pytest.mark.parametrize(
    ("text", "modulus", "value"),
    [("100", 1 << 16, 100), ("-1", 1 << 16, 65535), ("0xFFFD4000", 1 << 32, 0xFFFD4000)],
)
def test_origins_parse_as_numbers_or_counts_before_the_wrap(
    text: str, modulus: int, value: int
) -> None:
    assert parse_origin(text, modulus) == value


@pytest.mark.parametrize(
    ("flag", "text"),
    [
        ("--rtp-timestamp-origin", "4294967296"),
        ("--rtp-sequence-origin", "-65537"),
        ("--rtp-sequence-origin", "ten"),
    ],
)
def test_camsim_run_refuses_an_origin_out_of_range(flag: str, text: str) -> None:
    result = CliRunner().invoke(run_command, [flag, text, "--duration", "1"])
    assert result.exit_code == 2
    assert flag in result.output
    assert text in result.output


def test_origins_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="sequence origin"):
        RtpOrigin(sequence=1 << 16)
    with pytest.raises(ValueError, match="timestamp origin"):
        RtpOrigin(timestamp=-1)
