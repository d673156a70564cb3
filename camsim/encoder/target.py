"""Push URLs: ``rtmp[s]://host[:port]/app[/instance]/name[?query]``.

The split between application and stream name follows FFmpeg's ``rtmpproto.c``: with one path
component after the application it is the name; with more, the last one is the name and the rest
is the application (``app/instance``). The query stays on the stream name, where servers read
stream keys and tokens from (nginx-rtmp passes it to ``on_publish``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

RTMP_DEFAULT_PORT = 1935
RTMPS_DEFAULT_PORT = 443
"""FFmpeg's default for ``rtmps://``, and what the large platforms listen on."""

STREAM_INDEX_PLACEHOLDER = "{n}"


class TargetError(ValueError):
    """A push URL camsim cannot publish to."""


@dataclass(frozen=True)
class PushTarget:
    """Where one stream is published, and how ``connect``/``publish`` name it."""

    url: str
    tls: bool
    host: str
    port: int
    app: str
    stream_name: str
    tc_url: str

    @classmethod
    def parse(cls, url: str) -> PushTarget:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("rtmp", "rtmps"):
            raise TargetError(f"{url}: the scheme must be rtmp:// or rtmps://")
        host = parts.hostname
        if not host:
            raise TargetError(f"{url}: no host")
        try:
            explicit_port = parts.port
        except ValueError as exc:
            raise TargetError(f"{url}: {exc}") from None
        tls = scheme == "rtmps"
        port = explicit_port or (RTMPS_DEFAULT_PORT if tls else RTMP_DEFAULT_PORT)
        components = parts.path.lstrip("/").split("/")
        if len(components) < 2 or not all(components):
            raise TargetError(f"{url}: expected a path of the form /app/name")
        app = "/".join(components[:-1])
        name = components[-1] + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return cls(url, tls, host, port, app, name, f"{scheme}://{netloc}/{app}")


def expand(url: str, index: int) -> str:
    """The URL of stream ``index`` (counted from 1): ``{n}`` replaced by the index."""
    return url.replace(STREAM_INDEX_PLACEHOLDER, str(index))
