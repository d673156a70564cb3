"""RTMP/RTMPS ingest: the listeners, one session per publisher, FLV tags to packager frames,
stream keys and the limits every connection lives under."""

from refserver.ingest.admission import Admission, address_group
from refserver.ingest.failures import KeyFailures
from refserver.ingest.keys import PublishDecision, StreamKeys
from refserver.ingest.server import IngestServer
from refserver.ingest.session import IngestContext, RtmpSession
from refserver.ingest.tracks import FlvTracks, IngestError

__all__ = [
    "Admission",
    "FlvTracks",
    "IngestContext",
    "IngestError",
    "IngestServer",
    "KeyFailures",
    "PublishDecision",
    "RtmpSession",
    "StreamKeys",
    "address_group",
]
