"""RTMPS certificates: the configured pair, or a self-signed one generated once and kept.

The generated certificate names ``localhost``, ``127.0.0.1`` and ``::1``, so ``rtmps://127.0.0.1``
works with verification turned off (``ffmpeg -tls_verify 0``) or with the certificate itself
trusted as its own CA. It is reused while it stays valid for at least another day. The
certificates themselves are made and loaded by :mod:`wire.asyncio.certificates`.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from pathlib import Path

from wire.asyncio import certificates
from wire.asyncio.certificates import CertificateError as CertificateError

logger = logging.getLogger(__name__)

CERT_NAME = "refserver-cert.pem"
KEY_NAME = "refserver-key.pem"
VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=1)
COMMON_NAME = "refserver self-signed"


def self_signed_certificate(state_dir: Path) -> tuple[Path, Path]:
    """The kept certificate and key in ``state_dir``, generated when absent or expiring."""
    cert_path, key_path = state_dir / CERT_NAME, state_dir / KEY_NAME
    if certificates.still_valid(cert_path, for_at_least=RENEW_BEFORE) and key_path.exists():
        return cert_path, key_path
    state_dir.mkdir(parents=True, exist_ok=True)
    # Marked as a CA, so that clients may trust it as its own anchor.
    pair = certificates.self_signed(common_name=COMMON_NAME, lifetime=VALIDITY, ca=True)
    pair.write(cert_path, key_path)
    logger.info("generated a self-signed certificate", extra={"cert": str(cert_path)})
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context; raises :class:`CertificateError` for unusable files."""
    return certificates.server_context(cert, key)
