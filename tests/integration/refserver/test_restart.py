"""A stream's playlist carries on across a restart of refserver and across a republish after
the stream ended: the media sequence never goes back and the join is a discontinuity
(RFC 8216 §6.2.1, §6.2.2, §4.3.3.3), so a player holding the playlist never sees time reversed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver import server as server_module
from tests.integration.refserver.harness import RtmpPublisher, running, server_config
from wire.hls import parse
from wire.hls.validate import Reload, check_reloads, only_errors
from wire.rtmp.events import PublishStarted

# What a player holding the old playlist checks when it loads the new one. A restart cannot
# keep the old segments listed, so "removal-keeps-three-target-durations" cannot hold at the
# join, and a playlist that had ended (EXT-X-ENDLIST) is one the player has already let go.
CONTINUITY_RULES = {
    "media-sequence-never-decreases",
    "media-sequence-matches-removals",
    "discontinuity-sequence-consistent",
    "segment-unchanged",
    "target-duration-unchanged",
}


async def publish(port: int, name: str, plan: FlvPlan, seconds: float) -> None:
    publisher = RtmpPublisher(port)
    assert isinstance(await publisher.publish(name), PublishStarted), publisher.events
    await publisher.send_plan(plan, seconds=seconds)
    await publisher.unpublish()


def assert_continues(before: bytes, after: bytes) -> None:
    old, new = parse(before), parse(after)
    assert new.media_sequence == old.next_media_sequence
    assert new.segments[0].discontinuity
    assert new.discontinuity_sequence == old.discontinuity_sequence + sum(
        s.discontinuity for s in old.segments
    )
    findings = check_reloads([Reload(0.0, before), Reload(1.0, after)], each_playlist=False)
    assert [f for f in only_errors(findings) if f.rule in CONTINUITY_RULES] == []


def test_a_restart_carries_the_media_sequence_on(tmp_path: Path, h264_plan: FlvPlan) -> None:
    config = server_config(tmp_path)
    with running(config) as server:
        asyncio.run(publish(server.rtmp_port, "cam", h264_plan, 6))
        server.wait_for(lambda: not server.api("cam")["live"], what="the publish to end")
        asyncio.run(publish(server.rtmp_port, "cam", h264_plan, 2))  # a discontinuity inside
        server.wait_for(lambda: not server.api("cam")["live"], what="the republish to end")
    before = (tmp_path / "hls" / "cam" / "index.m3u8").read_bytes()
    assert parse(before).media_sequence > 0  # the window has slid: the sequence is not 0
    assert any(s.discontinuity for s in parse(before).segments)

    with running(config) as server:
        asyncio.run(publish(server.rtmp_port, "cam", h264_plan, 2))
        server.wait_for(lambda: not server.api("cam")["live"], what="the publish to end")
        after = server.get("/live/cam/index.m3u8").body
        assert server.api("cam")["hls"]["media_sequence"] == parse(before).next_media_sequence
    assert_continues(before, after)
    new_names = {s.uri for s in parse(after).segments}
    assert not new_names & {s.uri for s in parse(before).segments}
    # Nothing of the old run's is left but what the new playlist lists (and the marker).
    assert sorted(p.name for p in (tmp_path / "hls" / "cam").iterdir() if p.suffix == ".ts") == (
        sorted(new_names)
    )


def test_a_republish_after_the_stream_ended_carries_on(
    tmp_path: Path, h264_plan: FlvPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "TICK_SECONDS", 0.1)
    config = server_config(tmp_path)
    config = replace(config, limits=replace(config.limits, offline_timeout=0.5))
    with running(config) as server:
        asyncio.run(publish(server.rtmp_port, "cam", h264_plan, 6))
        server.wait_for(
            lambda: server.get("/api/streams/cam").status == 404, what="the stream to end"
        )
        before = (tmp_path / "hls" / "cam" / "index.m3u8").read_bytes()
        assert parse(before).endlist
        asyncio.run(publish(server.rtmp_port, "cam", h264_plan, 2))
        server.wait_for(lambda: not server.api("cam")["live"], what="the republish to end")
        after = server.get("/live/cam/index.m3u8").body
    assert_continues(before, after)
