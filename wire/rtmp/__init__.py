"""RTMP (Adobe specification 1.0, December 2012) as a sans-IO core.

:mod:`~wire.rtmp.handshake` (simple and complex handshake), :mod:`~wire.rtmp.chunk` (chunk
stream writer and reader), :mod:`~wire.rtmp.messages` (message payloads), and the connection state
machines :class:`RtmpClientConnection` (a publisher) and :class:`RtmpServerConnection` (ingest).
"""

from wire.rtmp.chunk import ChunkReader, ChunkWriter, RtmpMessage
from wire.rtmp.client import RtmpClientConnection
from wire.rtmp.errors import LocalProtocolError, RemoteProtocolError, RtmpError
from wire.rtmp.server import RtmpServerConnection

__all__ = [
    "ChunkReader",
    "ChunkWriter",
    "LocalProtocolError",
    "RemoteProtocolError",
    "RtmpClientConnection",
    "RtmpError",
    "RtmpMessage",
    "RtmpServerConnection",
]
