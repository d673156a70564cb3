"""A throwaway CA and a server certificate signed by it (see :mod:`wire.asyncio.certificates`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from wire.asyncio.certificates import certificate_authority, issue

VALIDITY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class ServerCertificate:
    ca: Path
    """The CA certificate (PEM) that signed ``cert``: what a client trusts with ``--ca``."""
    cert: Path
    key: Path


def make_server_certificate(folder: Path, *, name: str = "camsim test") -> ServerCertificate:
    """A CA and a certificate for ``localhost`` and ``127.0.0.1`` signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = certificate_authority(f"{name} CA", lifetime=VALIDITY)
    server = issue(ca, ["localhost", "127.0.0.1"], common_name="localhost", lifetime=VALIDITY)
    paths = ServerCertificate(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths.ca.write_bytes(ca.certificate)
    server.write(paths.cert, paths.key)
    return paths
