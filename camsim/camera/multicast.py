"""RTP over UDP multicast: one group per track of a camera, shared by its multicast clients.

A camera sends a multicast stream once, however many clients watch it (RFC 2326 §12.39,
RFC 7826 §18.54: ``RTP/AVP;multicast;destination=G;port=P-P+1;ttl=N``). As in gortsplib
(``multicastIPRange``, fixed ``multicastRTPPort``/``multicastRTCPPort``) each track gets its own
group address from the pool the user gives, on the same port pair, so a client joins exactly the
tracks it set up. The stream starts with the first PLAY of any member and stops when the last
playing member pauses, tears down or times out; its address goes back to the pool once no
session has it set up. Sender reports go to the group's RTCP port, sent by one member session
(the earliest one still playing) so the group hears one report per interval, not one per client.

The camera picks the group: a client's own ``destination`` is ignored, since letting a client
aim a camera's stream at any address is a traffic amplifier (RFC 2326 §12.39 and RFC 7826
§18.54 both let a server refuse or override it; gst-rtsp-server only accepts addresses of its
own pool).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from camsim.camera.device import Camera
from camsim.camera.sender import RtpSender, UdpSink
from wire.rtsp import PortRange

if TYPE_CHECKING:
    import socket

DEFAULT_PORT = 8002
"""RTP port of every group (RTCP is the next one); gortsplib's and MediaMTX's default."""
DEFAULT_TTL = 1
"""Hops a group's datagrams live: 1 keeps them on the camera's own subnet, the safe default for
a simulator. Cameras let the installer set 1 to 255 (their manuals describe 1 as "this subnet
only"); gortsplib and GStreamer's rtspsrc use 16."""


class PoolExhausted(Exception):
    """Every address of the pool carries a stream already."""


@dataclass(frozen=True, slots=True)
class MulticastConfig:
    """What ``camsim run --multicast NETWORK`` sets: the pool, the port pair, the TTL."""

    network: ipaddress.IPv4Network
    port: int = DEFAULT_PORT
    ttl: int = DEFAULT_TTL

    def __post_init__(self) -> None:
        if not self.network.is_multicast:
            raise ValueError(f"{self.network} is not a multicast network (224.0.0.0/4)")
        if self.port % 2 or not 0 < self.port < 0xFFFF:
            raise ValueError(f"multicast RTP port {self.port} must be even, below 65535")
        if not 1 <= self.ttl <= 0xFF:
            raise ValueError(f"multicast TTL {self.ttl} must be 1 to 255")

    @classmethod
    def parse(
        cls, network: str, *, port: int = DEFAULT_PORT, ttl: int = DEFAULT_TTL
    ) -> MulticastConfig:
        return cls(ipaddress.IPv4Network(network, strict=False), port, ttl)


class MulticastStream:
    """One track of one camera sent to one group, and the sessions that set it up."""

    def __init__(
        self,
        camera: Camera,
        track: int,
        group: str,
        ports: PortRange,
        ttl: int,
        sender: RtpSender,
        on_empty: Callable[[MulticastStream], None],
    ) -> None:
        self.camera = camera
        self.track = track
        self.group = group
        self.ports = ports
        self.ttl = ttl
        self.sender = sender
        self.members: set[str] = set()
        self.playing: dict[str, None] = {}  # ordered: the first one sends the reports
        self._on_empty = on_empty

    @property
    def reporter(self) -> str | None:
        """The member session that sends the group's sender reports."""
        return next(iter(self.playing), None)

    def join(self, member: str) -> None:
        self.members.add(member)

    def play(self, member: str, now: float) -> tuple[int, int]:
        """``member`` plays; the (seq, rtptime) of the next packet it will see."""
        if not self.playing:
            first = self.camera.subscribe([self.sender], now)[self.track]
        else:
            ticks = self.camera.media_ticks(self.track, now)
            first = (self.sender.sequence, self.sender.timestamp(ticks))
        self.playing[member] = None
        return first

    def stop(self, member: str) -> bool:
        """``member`` no longer plays; True when that stopped the stream."""
        if member not in self.playing:
            return False
        del self.playing[member]
        if self.playing:
            return False
        self.camera.unsubscribe([self.sender])
        return True

    def leave(self, member: str) -> None:
        """``member`` tore down or timed out: the last one gives the address back."""
        self.stop(member)
        self.members.discard(member)
        if not self.members:
            self._on_empty(self)


class MulticastPool:
    """Groups of a camera server's multicast streams, taken from :class:`MulticastConfig`."""

    def __init__(self, config: MulticastConfig, sock: socket.socket) -> None:
        self.config = config
        self.socket = sock
        """Sends every group's RTP and RTCP (:func:`camsim.camera.udp.multicast_socket`)."""
        self.streams: dict[tuple[int, int], MulticastStream] = {}  # by (id(camera), track)
        self._in_use: set[str] = set()

    def join(self, camera: Camera, track: int, member: str) -> MulticastStream:
        """The stream of ``track`` on ``camera``, set up by session ``member``."""
        key = (id(camera), track)
        stream = self.streams.get(key)
        if stream is None:
            group = self._allocate()
            port = self.config.port
            sink = UdpSink(self.socket, self.socket, (group, port), (group, port + 1))
            plan = camera.plan.tracks[track]
            sender = RtpSender(
                track,
                plan.clock_rate,
                secrets.randbits(32) or 1,
                sink,
                first_sequence=secrets.randbits(16),
                timestamp_offset=secrets.randbits(32),
                cname=f"{camera.name}@camsim",
            )
            stream = MulticastStream(
                camera,
                track,
                group,
                PortRange(port, port + 1),
                self.config.ttl,
                sender,
                self._release,
            )
            self.streams[key] = stream
            self._in_use.add(group)
        stream.join(member)
        return stream

    def close(self) -> None:
        self.socket.close()

    def _allocate(self) -> str:
        for address in self._hosts():
            if address not in self._in_use:
                return address
        raise PoolExhausted(f"no free address in {self.config.network}")

    def _hosts(self) -> Iterator[str]:
        network = self.config.network
        addresses = network.hosts() if network.num_addresses > 2 else iter(network)
        return (str(address) for address in addresses)

    def _release(self, stream: MulticastStream) -> None:
        if self.streams.get((id(stream.camera), stream.track)) is stream:
            del self.streams[(id(stream.camera), stream.track)]
            self._in_use.discard(stream.group)
