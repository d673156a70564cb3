"""RTSP 1.0 (RFC 2326, with RFC 7826 where it clarifies), sans I/O.

Messages and the mixed message/``$``-frame reader, header models, Basic and Digest
authentication, the server and client connection state machines, and the HTTP tunnel framing.
"""

from wire.rtsp.auth import Authorization, Challenge, challenges_from, digest_response
from wire.rtsp.authenticator import AuthCheck, Authenticator, ChallengeResponder
from wire.rtsp.client import ClientConfig, RtspClientConnection, keepalive_interval
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.events import (
    AuthenticationRetried,
    ConnectionTerminated,
    Event,
    InterleavedFrameReceived,
    KeepaliveSent,
    MalformedResponse,
    RequestReceived,
    RequestRejected,
    ResponseReceived,
    SessionExpired,
    UnexpectedResponse,
)
from wire.rtsp.headers import Headers, Public, SessionHeader
from wire.rtsp.message import InterleavedFrame, Method, Request, Response
from wire.rtsp.range import Range
from wire.rtsp.reader import ReaderLimits, RtspReader
from wire.rtsp.rtpinfo import RtpInfo, RtpInfoEntry
from wire.rtsp.server import RtspServerConfig, RtspServerConnection, ServerSession
from wire.rtsp.state import AggregateControl, SessionState
from wire.rtsp.status import StatusCode
from wire.rtsp.transport import PortRange, Transport, TransportSpec
from wire.rtsp.urls import base_url, resolve_control

__all__ = [
    "AggregateControl",
    "AuthCheck",
    "AuthenticationRetried",
    "Authenticator",
    "Authorization",
    "Challenge",
    "ChallengeResponder",
    "ClientConfig",
    "ConnectionTerminated",
    "Event",
    "Headers",
    "InterleavedFrame",
    "InterleavedFrameReceived",
    "KeepaliveSent",
    "LocalProtocolError",
    "MalformedResponse",
    "Method",
    "PortRange",
    "Public",
    "Range",
    "ReaderLimits",
    "RemoteProtocolError",
    "Request",
    "RequestReceived",
    "RequestRejected",
    "Response",
    "ResponseReceived",
    "RtpInfo",
    "RtpInfoEntry",
    "RtspClientConnection",
    "RtspReader",
    "RtspServerConfig",
    "RtspServerConnection",
    "ServerSession",
    "SessionExpired",
    "SessionHeader",
    "SessionState",
    "StatusCode",
    "Transport",
    "TransportSpec",
    "UnexpectedResponse",
    "base_url",
    "challenges_from",
    "digest_response",
    "keepalive_interval",
    "resolve_control",
]
