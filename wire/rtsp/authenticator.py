"""Authentication policy: the server's :class:`Authenticator` and the client's
:class:`ChallengeResponder`.

Both are pure: randomness comes from a caller-supplied source and time from the caller's ``now``.

Server nonces carry their issue time and a salt, signed with an HMAC under a key drawn once from
the random source over the time, the salt, the realm and the *scope* of the request that earned
the challenge (by default the first path segment of its URL: the camera). A nonce therefore
proves itself without a table, is good for one camera only, and an expired one can be told from
a forged one: the first earns ``stale=true`` when the digest is right, so the client retries with
the fresh nonce without asking anyone for credentials (RFC 7616 §3.3 and §5.4).

Each Digest answer must name the requested resource in ``uri`` (RFC 7616 §3.4.6, RFC 2617
§3.2.2.5). The request URL and ``uri`` are compared by path, not by scheme and authority: a client
builds both from the same URL, and a server reachable under several names (127.0.0.1, localhost,
a host name) cannot tell which one is right. For a track URL the presentation's URL is accepted
too: live555 (VLC and the many players built on it) sends its base URL, the ``Content-Base``, in
``uri`` for every request, SETUP of ``.../trackID=0`` included, as captures of VLC pulling IP
cameras show; FFmpeg and gortsplib send the request URL itself (gortsplib's server accepts the
base URL for SETUP in the same way). Any other ``uri`` is refused, so a header captured on one
request cannot be presented for another camera or a sibling track.

With ``qop=auth`` every answer carries a nonce count; a count already seen for its nonce is a
replay and is refused (RFC 2617 §3.2.2). Counts are remembered per nonce in a sliding window of
:data:`NONCE_COUNT_WINDOW`, for the nonce's lifetime, for at most :data:`MAX_TRACKED_NONCES`
nonces; a nonce pushed out of that table is answered as stale. Answers without ``qop`` (the RFC
2069 form most cameras and players still use) have no count: for them the nonce lifetime, the
method, the ``uri`` check and the camera binding are what limit a captured header.
"""

from __future__ import annotations

import hmac
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from wire.rtsp.auth import (
    ALGORITHM_MD5,
    DIGEST_ALGORITHMS,
    QOP_AUTH,
    SCHEME_BASIC,
    SCHEME_DIGEST,
    Authorization,
    Challenge,
    digest_response,
    is_supported_algorithm,
    wire_bytes,
)
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError

RandomSource = Callable[[int], bytes]
"""Returns n random bytes, e.g. ``os.urandom`` or a seeded generator in tests."""

Scope = Callable[[str], str]
"""Maps a request URL to the protection space its nonces are bound to."""

DEFAULT_NONCE_LIFETIME = 300.0
MAX_TRACKED_NONCES = 4096
"""Nonces whose counts are remembered at once (only nonces answered with ``qop`` are tracked)."""
NONCE_COUNT_WINDOW = 64
"""How far below the highest count seen a late count is still accepted once."""

_NONCE_SALT_SIZE = 8
_NONCE_MAC_SIZE = 16
_NONCE_SIZE = 8 + _NONCE_SALT_SIZE + _NONCE_MAC_SIZE
_DIGEST_REQUIRED = ("username", "realm", "nonce", "uri", "response")
_NONCE_COUNT_RE = re.compile("[0-9a-fA-F]{8}")  # nc is 8LHEX (RFC 2617 §3.2.2)


def uri_path(uri: str) -> str:
    """The path a request URL or Digest ``uri`` names, percent-decoded, without query, fragment
    or trailing slash.

    Takes absolute URLs (``rtsp://host:554/cam1``), paths (``/cam1``) and the scheme-less
    ``host:port/cam1`` that clients build from a scheme-less ``Content-Base``; ``*`` stays ``*``.
    """
    if uri == "*":
        return uri
    if uri.startswith("/"):
        path = uri
    else:
        # The authority ends at the first "/", "?" or "#" (RFC 3986 §3.2). Found by hand, not
        # with urlsplit, which raises on a malformed one ("rtsp://[") that a peer may send.
        rest = uri.partition("://")[2] if "://" in uri else uri
        end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
        path = rest[end:]
    path = path.partition("?")[0].partition("#")[0]
    return unquote(path).rstrip("/")


def first_path_segment(url: str) -> str:
    """The default :data:`Scope`: ``cam1`` for ``rtsp://host/cam1/trackID=0``."""
    return uri_path(url).lstrip("/").partition("/")[0]


def names_same_resource(uri: str, request_url: str) -> bool:
    """Whether a Digest ``uri`` names the resource of ``request_url`` (see the module notes).

    Equal paths match; so does the presentation's path for a track under it (live555's base URL),
    never a path further up or a sibling.
    """
    given, wanted = uri_path(uri), uri_path(request_url)
    if given == wanted:
        return True
    parent = wanted.rpartition("/")[0]
    return bool(parent) and given == parent


@dataclass
class _NonceCounts:
    """The counts seen with one nonce: the highest, and a bit per count just below it."""

    issued: float
    highest: int = 0
    seen: int = 0  # bit i: count highest - i was seen

    def use(self, count: int) -> bool:
        """Record ``count``; False when it was seen before or fell out of the window."""
        if count > self.highest:
            shift = count - self.highest
            # A jump past the window forgets it (and never shifts by up to 2**32 bits).
            kept = self.seen << shift if shift < NONCE_COUNT_WINDOW else 0
            self.seen = (kept | 1) & ((1 << NONCE_COUNT_WINDOW) - 1)
            self.highest = count
            return True
        offset = self.highest - count
        if offset >= NONCE_COUNT_WINDOW or self.seen >> offset & 1:
            return False
        self.seen |= 1 << offset
        return True


@dataclass(frozen=True)
class AuthCheck:
    """The verdict on a request's credentials."""

    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


class Authenticator:
    """Server side: issues challenges and checks credentials for one realm.

    ``users`` maps user names to passwords. Digest is offered once per algorithm in
    ``digest_algorithms`` (in that order), Basic after it when ``basic`` is true. ``scope`` maps
    a request URL to what its nonces are bound to (the first path segment by default: one
    camera of a server that serves several at ``/cam1``, ``/cam2``...).
    """

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        *,
        random_source: RandomSource,
        digest_algorithms: Sequence[str] = (ALGORITHM_MD5,),
        basic: bool = False,
        qop: bool = False,
        nonce_lifetime: float = DEFAULT_NONCE_LIFETIME,
        opaque: str | None = None,
        scope: Scope = first_path_segment,
    ) -> None:
        unsupported = [a for a in digest_algorithms if not is_supported_algorithm(a)]
        if unsupported:
            raise LocalProtocolError(f"unsupported digest algorithms {unsupported}")
        if not digest_algorithms and not basic:
            raise LocalProtocolError("an Authenticator needs Digest, Basic or both")
        self.realm = realm
        self.digest_algorithms = tuple(digest_algorithms)
        self.basic = basic
        self.qop = qop
        self.nonce_lifetime = nonce_lifetime
        self.opaque = opaque
        self.scope = scope
        self._users = dict(users)
        self._random_source = random_source
        self._key = random_source(32)
        self._counts: dict[str, _NonceCounts] = {}
        self._forgotten_before = float("-inf")  # nonces issued until then may have lost counts
        self._next_sweep = float("-inf")

    def challenges(self, now: float, *, uri: str, stale: bool = False) -> list[Challenge]:
        """The challenges of a 401 to a request for ``uri``, one ``WWW-Authenticate`` field each.

        The nonce is good for the scope of ``uri`` only. ``stale`` says the credentials were
        right and only the nonce was not (RFC 7616 §3.3).
        """
        nonce = self._new_nonce(now, self.scope(uri))
        result = []
        for algorithm in self.digest_algorithms:
            params = {"realm": self.realm, "nonce": nonce}
            if self.opaque is not None:
                params["opaque"] = self.opaque
            if stale:
                params["stale"] = "true"
            # A lone MD5 challenge omits algorithm=, as cameras do (and some clients need).
            if len(self.digest_algorithms) > 1 or algorithm.upper() != ALGORITHM_MD5:
                params["algorithm"] = algorithm
            if self.qop:
                params["qop"] = QOP_AUTH
            result.append(Challenge(SCHEME_DIGEST, params))
        if self.basic:
            result.append(Challenge(SCHEME_BASIC, {"realm": self.realm}))
        return result

    def check(
        self, method: str, authorization: str | None, now: float, *, uri: str | None = None
    ) -> AuthCheck:
        """Judge the ``Authorization`` value of a ``method`` request for ``uri`` (the request
        URL) received at ``now``.

        Digest credentials are refused without ``uri``: what they name cannot be checked.
        """
        if authorization is None:
            return AuthCheck(False, reason="no Authorization header")
        try:
            credentials = Authorization.parse(authorization)
            scheme = credentials.scheme.lower()
            if scheme == "digest" and self.digest_algorithms:
                if uri is None:
                    return AuthCheck(False, reason="no request URL to check Digest credentials")
                return self._check_digest(method, uri, credentials, now)
            if scheme == "basic" and self.basic:
                return self._check_basic(credentials)
        except RemoteProtocolError as error:
            return AuthCheck(False, reason=str(error))
        return AuthCheck(False, reason=f"scheme {credentials.scheme} was not offered")

    def _check_basic(self, credentials: Authorization) -> AuthCheck:
        username, password = credentials.basic_credentials
        expected = self._users.get(username)
        matches = hmac.compare_digest(password.encode(), (expected or "").encode())
        if expected is None or not matches:
            return AuthCheck(False, username, reason="wrong user name or password")
        return AuthCheck(True, username)

    def _check_digest(
        self, method: str, request_url: str, credentials: Authorization, now: float
    ) -> AuthCheck:
        params = credentials.params
        missing = [name for name in _DIGEST_REQUIRED if name not in params]
        if missing:
            return AuthCheck(False, reason=f"Digest credentials lack {', '.join(missing)}")
        username = params["username"]
        if params["realm"] != self.realm:
            return AuthCheck(False, username, reason=f"realm {params['realm']!r} is not ours")
        algorithm = params.get("algorithm", ALGORITHM_MD5)
        if algorithm.upper() not in (a.upper() for a in self.digest_algorithms):
            return AuthCheck(False, username, reason=f"algorithm {algorithm} was not offered")
        qop = params.get("qop")
        count = None
        if qop is not None:
            count = _nonce_count(params.get("nc"))
            if qop != QOP_AUTH or count is None or "cnonce" not in params:
                return AuthCheck(False, username, reason=f"unsupported qop {qop!r} or no nc/cnonce")
        if not names_same_resource(params["uri"], request_url):
            return AuthCheck(
                False, username, reason=f"uri {params['uri']!r} does not name {request_url}"
            )
        password = self._users.get(username)
        expected = digest_response(
            algorithm=algorithm,
            username=username,
            realm=self.realm,
            password=password or "",
            method=method,
            uri=params["uri"],
            nonce=params["nonce"],
            qop=qop,
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
        )
        # As bytes: compare_digest refuses str with non-ASCII characters, which a peer may send.
        given = wire_bytes(params["response"].lower())
        matches = hmac.compare_digest(expected.encode(), given)
        if password is None or not matches:
            return AuthCheck(False, username, reason="wrong user name or password")
        scope = self.scope(request_url)
        issued = self._nonce_issued_at(params["nonce"], scope)
        if issued is None:
            return AuthCheck(
                False, username, reason=f"nonce was not issued by this server for /{scope}"
            )
        if now - issued > self.nonce_lifetime:
            return AuthCheck(False, username, stale=True, reason="nonce expired")
        if count is not None:
            return self._count(params["nonce"], issued, count, username, now)
        return AuthCheck(True, username)

    def _count(self, nonce: str, issued: float, count: int, username: str, now: float) -> AuthCheck:
        self._sweep(now)
        counts = self._counts.get(nonce)
        if counts is None:
            if issued <= self._forgotten_before:
                # Its counts may have been pushed out of the table: a fresh nonce is safer
                # than trusting that this count was never seen.
                return AuthCheck(False, username, stale=True, reason="nonce counts forgotten")
            if len(self._counts) >= MAX_TRACKED_NONCES:
                oldest = next(iter(self._counts))
                evicted = self._counts.pop(oldest)
                self._forgotten_before = max(self._forgotten_before, evicted.issued)
            counts = self._counts[nonce] = _NonceCounts(issued)
        if not counts.use(count):
            return AuthCheck(
                False, username, reason=f"nonce count {count:08x} was already used (a replay)"
            )
        return AuthCheck(True, username)

    def _sweep(self, now: float) -> None:
        """Forget the counts of expired nonces (they are refused as stale anyway)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.nonce_lifetime / 8
        expired = [n for n, c in self._counts.items() if now - c.issued > self.nonce_lifetime]
        for nonce in expired:
            del self._counts[nonce]

    def _new_nonce(self, now: float, scope: str) -> str:
        stamp = struct.pack("!q", int(now * 1000)) + self._random_source(_NONCE_SALT_SIZE)
        return (stamp + self._mac(stamp, scope)).hex()

    def _nonce_issued_at(self, nonce: str, scope: str) -> float | None:
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            return None
        if len(raw) != _NONCE_SIZE:
            return None
        stamp, mac = raw[:-_NONCE_MAC_SIZE], raw[-_NONCE_MAC_SIZE:]
        if not hmac.compare_digest(mac, self._mac(stamp, scope)):
            return None
        (milliseconds,) = struct.unpack_from("!q", stamp)
        return float(milliseconds) / 1000

    def _mac(self, stamp: bytes, scope: str) -> bytes:
        # Lengths first, so that no (realm, scope) pair can be shifted into another.
        # Request URLs keep bytes that are not UTF-8 as surrogates: they go back to those bytes.
        parts = [wire_bytes(text) for text in (self.realm, scope)]
        bound = b"".join(struct.pack("!I", len(part)) + part for part in parts)
        return hmac.new(self._key, stamp + bound, "sha256").digest()[:_NONCE_MAC_SIZE]


def _nonce_count(value: str | None) -> int | None:
    """The value of an ``nc`` parameter, None unless it is 8 hex digits above zero."""
    if value is None or not _NONCE_COUNT_RE.fullmatch(value):
        return None
    count = int(value, 16)
    return count if count > 0 else None


def _digest_rank(challenge: Challenge) -> int | None:
    qops = challenge.qop_options
    if qops and QOP_AUTH not in qops:
        return None  # only auth-int offered: it would need the body hashed
    if challenge.algorithm.upper().endswith("-SESS") and not qops:
        return None  # -sess needs a cnonce, which only travels with qop
    ranks = [a.upper() for a in DIGEST_ALGORITHMS]
    algorithm = challenge.algorithm.upper()
    return ranks.index(algorithm) if algorithm in ranks else None


class ChallengeResponder:
    """Client side: picks the best challenge and answers it for each request.

    Digest beats Basic, SHA-256 beats MD5. With ``omit_md5_algorithm`` an MD5 answer leaves out
    ``algorithm=`` even when the challenge named it, for cameras that reject it (mediamtx#3116).
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cnonce_source: RandomSource,
        omit_md5_algorithm: bool = False,
    ) -> None:
        self.username = username
        self.password = password
        self.omit_md5_algorithm = omit_md5_algorithm
        self._cnonce_source = cnonce_source
        self._challenge: Challenge | None = None
        self._nc = 0

    @property
    def challenge(self) -> Challenge | None:
        """The challenge being answered, None before the first 401."""
        return self._challenge

    def accept(self, challenges: Iterable[Challenge]) -> bool:
        """Choose among a 401's challenges; False when none can be answered."""
        ranked: list[tuple[int, Challenge]] = []
        for challenge in challenges:
            if challenge.is_digest and (rank := _digest_rank(challenge)) is not None:
                ranked.append((rank, challenge))
            elif challenge.is_basic:
                ranked.append((len(DIGEST_ALGORITHMS), challenge))
        if not ranked:
            return False
        best = min(ranked, key=lambda item: item[0])[1]
        if self._challenge is None or best.params.get("nonce") != self._challenge.params.get(
            "nonce"
        ):
            self._nc = 0
        self._challenge = best
        return True

    def authorization(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for a request, None before any challenge."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.is_basic:
            return Authorization.basic(self.username, self.password).serialize()
        realm, nonce = challenge.params.get("realm", ""), challenge.params.get("nonce", "")
        qop = QOP_AUTH if challenge.qop_options else None
        nc = cnonce = None
        if qop is not None:
            self._nc += 1
            nc, cnonce = f"{self._nc:08x}", self._cnonce_source(16).hex()
        response = digest_response(
            algorithm=challenge.algorithm,
            username=self.username,
            realm=realm,
            password=self.password,
            method=method,
            uri=uri,
            nonce=nonce,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )
        params = {"username": self.username, "realm": realm, "nonce": nonce, "uri": uri}
        params["response"] = response
        named = challenge.params.get("algorithm")
        if named is not None and not (self.omit_md5_algorithm and named.upper() == ALGORITHM_MD5):
            params["algorithm"] = named
        if "opaque" in challenge.params:
            params["opaque"] = challenge.params["opaque"]
        if qop is not None and nc is not None and cnonce is not None:
            params.update(qop=qop, nc=nc, cnonce=cnonce)
        return Authorization(SCHEME_DIGEST, params).serialize()
