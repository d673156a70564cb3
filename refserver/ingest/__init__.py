"""RTMP/RTMPS ingest: the listeners, one sans-IO session per publisher, FLV tags to packager
frames, stream keys and the limits every connection lives under."""

from refserver.ingest.admission import Admission, address_group
from refserver.ingest.failures import KeyFailures
from refserver.ingest.keys import PublishDecision, StreamKeys
from refserver.ingest.server import IngestConnection, IngestServer
from refserver.ingest.session import IngestContext, IngestEnded, IngestSession, PublishingStarted
from refserver.ingest.tracks import FlvTracks, IngestError

__all__ = [
    "Admission",
    "FlvTracks",
    "IngestConnection",
    "IngestContext",
    "IngestEnded",
    "IngestError",
    "IngestServer",
    "IngestSession",
    "KeyFailures",
    "PublishDecision",
    "PublishingStarted",
    "StreamKeys",
    "address_group",
]
