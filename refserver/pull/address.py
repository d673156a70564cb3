"""Where a pulled camera is: an ``rtsp://`` or ``rtsps://`` URL split into what we connect to,
what we ask for and the credentials we answer a challenge with."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_PORT = 554
"""RFC 2326 §3.2."""
DEFAULT_SECURE_PORT = 322
"""IANA's registration for RTSP over TLS, which RFC 7826 §19.2 makes the ``rtsps`` default."""
SCHEMES = {"rtsp": DEFAULT_PORT, "rtsps": DEFAULT_SECURE_PORT}


@dataclass(frozen=True, slots=True)
class CameraAddress:
    """An ``rtsp://`` or ``rtsps://`` URL split into what we connect to and the credentials."""

    url: str
    """Without user information: the Request-URI we send."""
    host: str
    port: int
    username: str | None
    password: str
    secure: bool = False
    """``rtsps://``: TLS on the connection, media interleaved inside it."""

    @classmethod
    def parse(cls, url: str) -> CameraAddress:
        """Raises ``ValueError`` for anything but an ``rtsp[s]://host[:port]/...`` URL."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ValueError(f"{url!r} is not an rtsp:// URL (nor rtsps://)")
        host = parts.hostname
        if not host:
            raise ValueError(f"{url!r} has no host")
        port = parts.port or SCHEMES[scheme]  # raises ValueError for a bad port
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        bare = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password or "")
        return cls(bare, host, port, username, password, scheme == "rtsps")

    @property
    def where(self) -> str:
        """``host:port``, as messages and the publisher's address show it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def path(self) -> str:
        """The path and query of the URL: what an HTTP tunnel's legs ask for."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
