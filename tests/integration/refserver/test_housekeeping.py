"""The server's periodic housekeeping survives its own failures, and says so in the log."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from refserver import server as server_module
from refserver.config import Limits
from refserver.server import ReferenceServer
from refserver.streams import PublisherInfo
from tests.integration.refserver.harness import server_config


def test_a_failing_tick_is_logged_and_the_next_one_still_ends_offline_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server_module, "TICK_SECONDS", 0.05)
    config = replace(
        server_config(tmp_path, http_port=None, rtmps_port=None),
        limits=Limits(offline_timeout=0.1),
    )

    async def scenario() -> None:
        server = ReferenceServer(config)
        registry = server.registry
        failures = 0
        tick = registry.tick

        def failing_once() -> None:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise RuntimeError("a bug in one round of housekeeping")
            tick()

        monkeypatch.setattr(registry, "tick", failing_once)
        await server.start()
        try:
            stream = registry.claim("gone", PublisherInfo("127.0.0.1:1", "rtmp", 0.0, 1))
            registry.release(stream, stream.publisher)  # type: ignore[arg-type]
            for _ in range(100):
                if registry.get("gone") is None:
                    break
                await asyncio.sleep(0.02)
        finally:
            await server.stop()
        assert failures == 1
        assert registry.get("gone") is None, "the offline stream was never ended"

    with caplog.at_level(logging.ERROR, logger="refserver"):
        asyncio.run(scenario())
    failed = [r for r in caplog.records if r.name == "refserver" and r.exc_info]
    assert len(failed) == 1
    assert "housekeeping" in failed[0].getMessage()
    assert "a bug in one round" in str(failed[0].exc_info[1])  # type: ignore[index]
