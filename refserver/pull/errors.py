"""Why pulling a camera failed, in words an operator understands."""

from __future__ import annotations


class PullError(Exception):
    """Pulling failed; the message says why in words an operator understands."""


class UdpUnavailable(PullError):
    """RTP over UDP does not work with this camera: it refused the transport (461) or its
    packets never reached us. The ``auto`` transport answers with TCP interleaving."""
