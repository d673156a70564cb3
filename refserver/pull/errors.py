"""Why pulling a camera failed, in words an operator understands."""

from __future__ import annotations


class PullError(Exception):
    """Pulling failed; the message says why in words an operator understands."""
