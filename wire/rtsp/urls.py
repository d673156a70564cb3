"""Control URLs: the base of a presentation and the URL of each stream (RFC 2326 §C.1.1).

The base is ``Content-Base``, else ``Content-Location``, else the request URL. A control
attribute of ``*`` names the base itself, an absolute URL stands for itself, and anything else is
appended to the base. RFC 2326 asks for RFC 1808 resolution there, which would drop the last path
segment of a base without a trailing slash; FFmpeg, live555 and gortsplib append instead, and the
servers they talk to expect it, so that is what is done here.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from wire.rtsp.headers import Headers

AGGREGATE_CONTROL = "*"

_ABSOLUTE_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# host:port/... without a scheme, as some cameras send in Content-Base (moonfire-nvr#356).
_SCHEMELESS_RE = re.compile(r"[^/?#:]+:\d+(?:[/?#]|$)")


def _escaped(url: str) -> str:
    """``url`` with whitespace and control characters percent-encoded (RFC 3986 §2.1): a camera
    that puts a space in ``Content-Base`` or a control attribute means the path with the space,
    and a request line cannot carry it raw (nor, safely, a CR or LF)."""
    if all(" " < c < "\x7f" or c > "\x7f" for c in url):
        return url
    return "".join(c if " " < c < "\x7f" or c > "\x7f" else f"%{ord(c):02X}" for c in url)


def _absolute(candidate: str, request_url: str) -> str:
    candidate = _escaped(candidate)
    if _ABSOLUTE_RE.match(candidate):
        return candidate
    if _SCHEMELESS_RE.match(candidate):
        return f"{urlsplit(request_url).scheme}://{candidate}"
    return _join(request_url, candidate, request_url)  # a relative path (gortsplib#636)


def _join(base: str, reference: str, fallback: str) -> str:
    """RFC 3986 resolution; ``fallback`` when the reference cannot be resolved (``urljoin``
    raises ``ValueError`` for a bracketed host that does not close, ``//[::1/x``)."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return fallback


def base_url(request_url: str, headers: Headers) -> str:
    """The base URL of a DESCRIBE answer to ``request_url``."""
    for name in ("Content-Base", "Content-Location"):
        value = headers.get(name, "").strip()
        if value:
            return _absolute(value, request_url)
    return request_url


def resolve_control(base: str, control: str) -> str:
    """The absolute URL of a control attribute relative to ``base``."""
    control = _escaped(control.strip())
    if not control or control == AGGREGATE_CONTROL:
        return base
    if _ABSOLUTE_RE.match(control):
        return control
    separator = "" if base.endswith("/") or control.startswith("?") else "/"
    appended = base + separator + control
    if control.startswith("/"):
        return _join(base, control, appended)
    return appended
