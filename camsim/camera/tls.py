"""RTSPS: TLS on the control connection (media interleaved inside it), with a self-signed
certificate when the user brings none. Certificates are made and loaded by
:mod:`wire.asyncio.certificates`."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from wire.asyncio import certificates
from wire.asyncio.certificates import LOCAL_NAMES
from wire.asyncio.certificates import CertificateError as CertificateError
from wire.asyncio.certificates import CertificatePair as CertificatePair
from wire.asyncio.certificates import load_certificate_pair as load_certificate_pair


def self_signed_certificate(hosts: Iterable[str], common_name: str = "camsim") -> CertificatePair:
    """An ECDSA P-256 certificate valid for ``hosts`` (names or IP addresses) for a year."""
    return certificates.self_signed(hosts, common_name=common_name)


def server_context(
    certificate: Path | None = None, private_key: Path | None = None, *, hosts: Iterable[str] = ()
) -> ssl.SSLContext:
    """A TLS server context from the given files, or from a fresh self-signed certificate.

    Raises :class:`CertificateError` when the files cannot be read or do not make a pair.
    """
    if certificate is not None:
        return certificates.server_context(certificate, private_key)
    return certificates.server_context_for(self_signed_certificate([*LOCAL_NAMES, *hosts]))
