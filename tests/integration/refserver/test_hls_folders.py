"""The HLS folders of a running refserver: a gone stream's folder is expired, and the temporary
folders of refservers that were killed are removed when one starts."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver import server as server_module
from refserver.hls.folders import LOCK
from refserver.server import ReferenceServer
from tests.integration.refserver.harness import RtmpPublisher, running, server_config
from wire.rtmp.events import PublishStarted


async def publish(port: int, name: str, plan: FlvPlan, seconds: float) -> None:
    publisher = RtmpPublisher(port)
    assert isinstance(await publisher.publish(name), PublishStarted), publisher.events
    await publisher.send_plan(plan, seconds=seconds)
    await publisher.unpublish()


def test_a_stream_that_does_not_come_back_is_removed_after_expire_after(
    tmp_path: Path, h264_plan: FlvPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "TICK_SECONDS", 0.1)
    config = server_config(tmp_path, hls_expire_after=1.0)
    config = replace(config, limits=replace(config.limits, offline_timeout=0.3))
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls" / "mine").mkdir()  # a folder refserver did not make: left alone
    (tmp_path / "hls" / "mine" / "index.m3u8").write_text("#EXTM3U\n")
    with running(config) as server:
        asyncio.run(publish(server.rtmp_port, "brief", h264_plan, 2))
        server.wait_for(
            lambda: server.get("/api/streams/brief").status == 404, what="the stream to end"
        )
        assert (tmp_path / "hls" / "brief" / "index.m3u8").is_file()
        server.wait_for(
            lambda: not (tmp_path / "hls" / "brief").exists(), 5, "the folder to be expired"
        )
        assert (tmp_path / "hls" / "mine" / "index.m3u8").is_file()


def test_start_removes_killed_refservers_temporary_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    leftover = tmp_path / "refserver-hls-killed"
    (leftover / "cam").mkdir(parents=True)
    (leftover / LOCK).write_text("4242\n")  # nobody holds it: its refserver is gone
    (leftover / "cam" / "segment0.ts").write_bytes(b"\x47" * 188)
    config = replace(server_config(tmp_path, http_port=None, rtmps_port=None), hls_dir=None)

    async def run() -> Path:
        server = ReferenceServer(config)
        await server.start()
        folder = server.hls_dir
        assert folder.parent == tmp_path
        assert folder.is_dir()
        await server.stop()
        return folder

    folder = asyncio.run(run())
    assert not leftover.exists()
    assert not folder.exists()
