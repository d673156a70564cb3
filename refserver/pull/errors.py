"""Why pulling a camera failed, in words an operator understands."""

from __future__ import annotations


class PullError(Exception):
    """Pulling failed; the message says why in words an operator understands."""


class Unreachable(PullError):
    """The camera's port did not answer: the connect was refused, reset or timed out, or an
    HTTP tunnel's GET leg got no answer at all. Another of the camera's endpoints may do better;
    a camera that answered (a TLS handshake, an HTTP status) was reached, and is not this."""
