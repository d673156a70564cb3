"""Why a stream could not be published."""

from __future__ import annotations


class PushError(Exception):
    """A connection attempt failed; the message names the phase and the cause.

    ``fatal`` errors are not retried by ``--reconnect``: trying again cannot change the answer
    (a rejected publish, a certificate that does not verify).
    """

    fatal = False


class PublishRefused(PushError):
    """The server answered ``connect`` or ``publish`` with an error status."""

    fatal = True

    def __init__(self, command: str, code: str, description: str) -> None:
        super().__init__(
            f"{command} rejected: {code}" + (f": {description}" if description else "")
        )
        self.command = command
        self.code = code
        self.description = description


class CertificateRejected(PushError):
    """The server's TLS certificate did not verify."""

    fatal = True
