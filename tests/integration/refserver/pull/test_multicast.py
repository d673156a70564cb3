"""refserver pulls a camsim camera over UDP multicast, inside a network namespace made for the
test, and packages it into HLS: the same video frames, one for one, as a unicast pull of the
same camera running alongside; the group is joined on the namespace's veth while the pull runs
and left when it stops.

The pulls run on an event loop in a thread that entered the ``lan`` namespace (a socket belongs
to the namespace of the thread that made it), so every address they use is the namespace's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from camsim.fault.netns import LAN_IF, Topology, _setns
from camsim.fault.netns_plugin import TopologyFactory, netns_topology
from refserver.hls import Frame, FrameKind
from refserver.pull.session import CameraAddress, PullError, RtspPullSession, SessionTimeouts
from refserver.pull.tracks import Track
from tests.integration.camera.test_multicast import POOL, PORT, start_camera
from tests.integration.refserver.pull.test_transports import Packager
from wire.hls.validate import check_playlist

__all__ = ["netns_topology"]  # the fixture, imported for pytest

TIMEOUTS = SessionTimeouts(connect=5.0, request=3.0, media=5.0, udp_switch=1.0)
SEGMENTS = 6  # of 1 s: a live playlist with the six segments Apple asks for
TIMEOUT = 30.0


class HashingPackager(Packager):
    """Packages into HLS in memory and keeps a digest of every video frame, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.video: list[bytes] = []

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        if frame.kind is FrameKind.VIDEO:
            body = frame.data or b"".join(frame.nalus)
            self.video.append(hashlib.sha256(body).digest())
        super().frame(track, frame, size)


def in_namespace(topology: Topology, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on an event loop of its own in a thread inside the lan namespace."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            _setns(topology.names["lan"])
            asyncio.run(main())
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=run, name="netns-lan-pull")
    thread.start()
    thread.join(TIMEOUT * 3)
    assert not thread.is_alive(), "the pulls did not end"
    if failed:
        raise failed[0]


def igmp_groups(topology: Topology, interface: str) -> set[str]:
    """The groups of the camera's pool that ``interface`` of the lan namespace is a member of
    (/proc/net/igmp; every interface is also in 224.0.0.1, all systems)."""
    groups: set[str] = set()
    device = ""
    for line in topology.exec("lan", ["cat", "/proc/net/igmp"]).splitlines()[1:]:
        if line and not line[0].isspace():
            device = line.split()[1]
        elif device == interface and line.strip():
            # The address as the kernel holds it, printed as a little-endian hexadecimal number.
            groups.add(socket.inet_ntoa(bytes.fromhex(line.split()[0])[::-1]))
    return {g for g in groups if ipaddress.ip_address(g) in ipaddress.ip_network(POOL)}


async def wait_for(condition: Callable[[], bool], task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if task.done():
            task.result()
            raise AssertionError("the pull ended by itself")
        assert time.monotonic() < deadline, f"timed out after {TIMEOUT} s"
        await asyncio.sleep(0.05)


async def stopped(session: RtspPullSession, task: asyncio.Task[None]) -> None:
    session.stop()
    try:
        await asyncio.wait_for(task, TIMEOUTS.request + 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, PullError):
            await task


def test_refserver_pulls_over_multicast_the_frames_of_a_unicast_pull(
    netns_topology: TopologyFactory, camera_sample: Path
) -> None:
    topology = netns_topology()
    start_camera(topology, camera_sample)
    address = CameraAddress.parse(f"rtsp://{topology.lan_address}:{PORT}/cam1")
    unicast, multicast = HashingPackager(), HashingPackager()
    joined: set[str] = set()

    async def main() -> None:
        reference = RtspPullSession(address, unicast, timeouts=TIMEOUTS, transport="udp")
        reference_task = asyncio.create_task(reference.run())
        try:
            await wait_for(lambda: len(unicast.video) >= 1, reference_task)
            session = RtspPullSession(address, multicast, timeouts=TIMEOUTS, transport="multicast")
            task = asyncio.create_task(session.run())
            try:
                await wait_for(lambda: multicast.listed >= SEGMENTS, task)
                assert session.transport_in_use == "multicast"
                joined.update(igmp_groups(topology, LAN_IF))
            finally:
                await stopped(session, task)
            count = len(unicast.video)
            await wait_for(lambda: len(unicast.video) >= count + 15, reference_task)
        finally:
            await stopped(reference, reference_task)

    in_namespace(topology, main)

    assert len(joined) == 2, joined  # video and audio, each its own group, on the veth
    assert not joined & igmp_groups(topology, LAN_IF), "the groups were not left"
    assert multicast.frames[FrameKind.AUDIO] > 0
    assert check_playlist(multicast.playlist()) == []
    assert len(multicast.video) >= SEGMENTS * 15
    # One for one: the multicast pull's frames are a run of the unicast pull's, none lost,
    # repeated or out of order (the sample's 4 s loop repeats, so any matching run will do).
    got, reference = multicast.video, unicast.video
    starts = [i for i in range(len(reference) - len(got) + 1) if reference[i] == got[0]]
    assert any(reference[i : i + len(got)] == got for i in starts), (len(got), len(reference))
