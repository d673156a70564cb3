"""A replay camera on a loop of its own, for peers that run elsewhere (refserver, FFmpeg), alone
or behind the fault proxy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from camsim.pcap.replay_camera import CameraReplay, CapturedCamera, start_camera
from camsim.pcap.replay_fault import Faults, ProxiedCamera, start_camera_behind_proxy


@contextmanager
def running_replay(captured: CapturedCamera, **options: Any) -> Iterator[CameraReplay]:
    """``start_camera(captured, port=0, **options)`` in a background thread, closed after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="replay-camera", daemon=True)
    thread.start()
    replay = asyncio.run_coroutine_threadsafe(
        start_camera(captured, port=0, **options), loop
    ).result(30)
    try:
        yield replay
    finally:
        asyncio.run_coroutine_threadsafe(replay.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def running_proxied_replay(
    captured: CapturedCamera, faults: Faults, *, seed: int = 0, **options: Any
) -> Iterator[ProxiedCamera]:
    """``start_camera_behind_proxy(captured, faults, seed=seed, port=0, **options)`` in a
    background thread, closed after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="replay-camera", daemon=True)
    thread.start()
    proxied = asyncio.run_coroutine_threadsafe(
        start_camera_behind_proxy(captured, faults, seed=seed, port=0, **options), loop
    ).result(30)
    try:
        yield proxied
    finally:
        asyncio.run_coroutine_threadsafe(proxied.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
