"""RTSP pull: cameras the server connects to, packaged to HLS like any publisher."""

from refserver.pull.attempt import PullAttempt, PullSink
from refserver.pull.plan import PullPlan
from refserver.pull.session import CameraAddress, PullError, RtspPullSession, SessionTimeouts
from refserver.pull.source import Backoff, PullSource, SourceState
from refserver.pull.tracks import Presentation, Track, presentation_from_sdp

__all__ = [
    "Backoff",
    "CameraAddress",
    "Presentation",
    "PullAttempt",
    "PullError",
    "PullPlan",
    "PullSink",
    "PullSource",
    "RtspPullSession",
    "SessionTimeouts",
    "SourceState",
    "Track",
    "presentation_from_sdp",
]
