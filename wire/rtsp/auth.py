"""``WWW-Authenticate`` and ``Authorization`` for Basic (RFC 7617) and Digest (RFC 2617, 7616).

A header value may hold several challenges (``Digest realm="a", nonce="b", Basic realm="a"``) and a
response may carry several ``WWW-Authenticate`` headers; :meth:`Challenge.parse_all` reads one
value and :func:`challenges_from` all of a message's. RTSP reuses HTTP authentication unchanged,
with the RTSP method and request URL in the digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.headers import Headers

SCHEME_BASIC = "Basic"
SCHEME_DIGEST = "Digest"
ALGORITHM_MD5 = "MD5"
ALGORITHM_MD5_SESS = "MD5-sess"
ALGORITHM_SHA256 = "SHA-256"
ALGORITHM_SHA256_SESS = "SHA-256-sess"
QOP_AUTH = "auth"

# Supported digest algorithms, most preferred first (RFC 7616 §3.7: prefer SHA-256).
DIGEST_ALGORITHMS = (ALGORITHM_SHA256, ALGORITHM_SHA256_SESS, ALGORITHM_MD5, ALGORITHM_MD5_SESS)
_HASH_NAMES = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}

# Parameters written as tokens rather than quoted-strings (RFC 7616 §3.3 and §3.4).
_CHALLENGE_TOKENS = frozenset({"algorithm", "stale", "charset", "userhash"})
_CREDENTIAL_TOKENS = frozenset({"algorithm", "qop", "nc", "userhash"})

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68_RE = re.compile(r"([A-Za-z0-9\-._~+/]+=*)[ \t]*(?=,|$)")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)


def _parse_auth_items(value: str, header: str) -> list[tuple[str, dict[str, str], str | None]]:
    """Split a header value into (scheme, params, token68) items (RFC 7235 §2.1)."""
    items: list[tuple[str, dict[str, str], str | None]] = []
    pos = 0
    while True:
        while pos < len(value) and value[pos] in " \t,":
            pos += 1
        if pos == len(value):
            return items
        token = _TOKEN_RE.match(value, pos)
        if token is None:
            raise RemoteProtocolError(f"{header}: unexpected {value[pos]!r} at offset {pos}")
        pos = token.end()
        while pos < len(value) and value[pos] in " \t":
            pos += 1
        if pos < len(value) and value[pos] == "=" and items:
            name, raw, pos = token.group().lower(), "", pos + 1
            while pos < len(value) and value[pos] in " \t":
                pos += 1
            if quoted := _QUOTED_RE.match(value, pos):
                raw, pos = re.sub(r"\\(.)", r"\1", quoted[1]), quoted.end()
            elif value[pos : pos + 1] == '"':
                raise RemoteProtocolError(f"{header}: unterminated quoted-string for {name}")
            elif bare := _TOKEN_RE.match(value, pos):
                raw, pos = bare.group(), bare.end()
            items[-1][1][name] = raw
            continue
        if pos < len(value) and value[pos] == "=":
            raise RemoteProtocolError(f"{header}: parameter {token.group()!r} before any scheme")
        token68 = _TOKEN68_RE.match(value, pos)
        if token68 is not None:
            items.append((token.group(), {}, token68[1]))
            pos = token68.end()
        else:
            items.append((token.group(), {}, None))


def _format_params(params: Mapping[str, str], tokens: frozenset[str]) -> str:
    def one(name: str, value: str) -> str:
        if name in tokens and _TOKEN_RE.fullmatch(value):
            return f"{name}={value}"
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{name}="{escaped}"'

    return ", ".join(one(name, value) for name, value in params.items())


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header; parameter names are lower-case."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    @property
    def is_basic(self) -> bool:
        return self.scheme.lower() == "basic"

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def algorithm(self) -> str:
        """The digest algorithm; MD5 when absent (RFC 7616 §3.3)."""
        return self.params.get("algorithm", ALGORITHM_MD5)

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"

    @property
    def qop_options(self) -> tuple[str, ...]:
        raw = self.params.get("qop", "")
        return tuple(q.strip().lower() for q in raw.split(",") if q.strip())

    @classmethod
    def parse_all(cls, value: str) -> list[Challenge]:
        """Every challenge in one header value."""
        return [cls(s, p, t) for s, p, t in _parse_auth_items(value, "WWW-Authenticate")]

    def serialize(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        if not self.params:
            return self.scheme
        return f"{self.scheme} {_format_params(self.params, _CHALLENGE_TOKENS)}"


def challenges_from(headers: Headers) -> list[Challenge]:
    """All challenges of all ``WWW-Authenticate`` fields, in order."""
    return [c for value in headers.get_all("WWW-Authenticate") for c in Challenge.parse_all(value)]


@dataclass(frozen=True)
class Authorization:
    """The credentials of an ``Authorization`` header; parameter names are lower-case."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    @classmethod
    def basic(cls, username: str, password: str) -> Authorization:
        user_pass = f"{username}:{password}".encode()
        return cls(SCHEME_BASIC, token68=base64.b64encode(user_pass).decode("ascii"))

    @property
    def basic_credentials(self) -> tuple[str, str]:
        """(username, password) of Basic credentials."""
        if self.token68 is None:
            raise RemoteProtocolError("Authorization: Basic without credentials")
        try:
            decoded = base64.b64decode(self.token68, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RemoteProtocolError("Authorization: Basic credentials are not base64") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise RemoteProtocolError("Authorization: Basic credentials without ':'")
        return username, password

    @classmethod
    def parse(cls, value: str) -> Authorization:
        items = _parse_auth_items(value, "Authorization")
        if len(items) != 1:
            raise RemoteProtocolError(f"Authorization: expected one credential, got {len(items)}")
        scheme, params, token68 = items[0]
        return cls(scheme, params, token68)

    def serialize(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        return f"{self.scheme} {_format_params(self.params, _CREDENTIAL_TOKENS)}"


def wire_bytes(text: str) -> bytes:
    """``text`` as the bytes it was read from: UTF-8, with the bytes that were not UTF-8 (which
    the reader keeps as surrogates) given back as they came. Never raises, whatever ``text``."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no reader makes; still not a crash
        return text.encode("utf-8", "surrogatepass")


def is_supported_algorithm(algorithm: str) -> bool:
    return algorithm.upper() in _HASH_NAMES


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value of Digest credentials (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1).

    Without ``qop`` this is the RFC 2069 form that most cameras still use.
    """
    hash_name = _HASH_NAMES.get(algorithm.upper())
    if hash_name is None:
        raise RemoteProtocolError(f"Digest: unsupported algorithm {algorithm!r}")

    def digest(text: str) -> str:
        return hashlib.new(hash_name, wire_bytes(text)).hexdigest()

    ha1 = digest(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = digest(f"{ha1}:{nonce}:{cnonce or ''}")
    ha2 = digest(f"{method}:{uri}")
    if qop is None:
        return digest(f"{ha1}:{nonce}:{ha2}")
    return digest(f"{ha1}:{nonce}:{nc or ''}:{cnonce or ''}:{qop}:{ha2}")
