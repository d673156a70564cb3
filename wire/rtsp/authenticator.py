"""Authentication policy: the server's :class:`Authenticator` and the client's
:class:`ChallengeResponder`.

Both are pure: randomness comes from a caller-supplied source and time from the caller's ``now``.
Server nonces are stateless: the issue time and a salt, signed with an HMAC under a key drawn once
from the random source, so any number of clients costs no memory and an expired nonce can be told
from a forged one (the first earns ``stale=true``, RFC 7616 §3.3).
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

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
)
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError

RandomSource = Callable[[int], bytes]
"""Returns n random bytes, e.g. ``os.urandom`` or a seeded generator in tests."""

DEFAULT_NONCE_LIFETIME = 300.0
_NONCE_SALT_SIZE = 8
_NONCE_MAC_SIZE = 16
_NONCE_SIZE = 8 + _NONCE_SALT_SIZE + _NONCE_MAC_SIZE
_DIGEST_REQUIRED = ("username", "realm", "nonce", "uri", "response")


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
    ``digest_algorithms`` (in that order), Basic after it when ``basic`` is true.
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
        self._users = dict(users)
        self._random_source = random_source
        self._key = random_source(32)

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """The challenges of a 401, one ``WWW-Authenticate`` field each."""
        nonce = self._new_nonce(now)
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

    def check(self, method: str, authorization: str | None, now: float) -> AuthCheck:
        """Judge the ``Authorization`` value of a request received at ``now``."""
        if authorization is None:
            return AuthCheck(False, reason="no Authorization header")
        try:
            credentials = Authorization.parse(authorization)
            scheme = credentials.scheme.lower()
            if scheme == "digest" and self.digest_algorithms:
                return self._check_digest(method, credentials, now)
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

    def _check_digest(self, method: str, credentials: Authorization, now: float) -> AuthCheck:
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
        if qop is not None and (qop != QOP_AUTH or "nc" not in params or "cnonce" not in params):
            return AuthCheck(False, username, reason=f"unsupported qop {qop!r} or no nc/cnonce")
        password = self._users.get(username)
        # The uri parameter is hashed as sent: live555 puts the aggregate URL there even for a
        # SETUP of a track URL, so it is not compared with the request URL.
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
        matches = hmac.compare_digest(expected, params["response"].lower())
        if password is None or not matches:
            return AuthCheck(False, username, reason="wrong user name or password")
        issued = self._nonce_issued_at(params["nonce"])
        if issued is None:
            return AuthCheck(False, username, reason="nonce was not issued by this server")
        if now - issued > self.nonce_lifetime:
            return AuthCheck(False, username, stale=True, reason="nonce expired")
        return AuthCheck(True, username)

    def _new_nonce(self, now: float) -> str:
        stamp = struct.pack("!q", int(now * 1000)) + self._random_source(_NONCE_SALT_SIZE)
        return (stamp + self._mac(stamp)).hex()

    def _nonce_issued_at(self, nonce: str) -> float | None:
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            return None
        if len(raw) != _NONCE_SIZE:
            return None
        stamp, mac = raw[:-_NONCE_MAC_SIZE], raw[-_NONCE_MAC_SIZE:]
        if not hmac.compare_digest(mac, self._mac(stamp)):
            return None
        (milliseconds,) = struct.unpack_from("!q", stamp)
        return float(milliseconds) / 1000

    def _mac(self, stamp: bytes) -> bytes:
        return hmac.new(self._key, stamp, "sha256").digest()[:_NONCE_MAC_SIZE]


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
