"""Credentials: what goes in the `Authorization` header, and nothing else the client knows.

- `ApiKey`: a CometAPI key, sent as it is (`Bearer <key>`).
- `KlingToken`: Kling's own API signs a short-lived JWT (HS256) with the secret key, whose
  `iss` is the access key, `exp` now + 30 min and `nbf` now - 5 s; a token is reused until
  less than `renew_before_s` of its life is left, then signed again. Thread-safe.

Every credential also names the texts that must never be shown (`hidden`), so that the
client can take them out of any error or reason the provider echoes back.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Protocol

from avatar_core.secret import Secret

TOKEN_LIFETIME_S = 1800  # exp = now + 30 min, as Kling's documentation signs them
NOT_BEFORE_SLACK_S = 5  # nbf = now - 5 s: a server clock a little behind still accepts it
RENEW_BEFORE_S = 300  # sign a new token when less than 5 min is left
KEPT_TOKENS = 2  # earlier tokens still hidden (one is still valid for RENEW_BEFORE_S)


class Credential(Protocol):
    """What the client needs of a credential: its header, and what to hide."""

    def authorization(self) -> str: ...

    def hidden(self) -> tuple[str, ...]: ...


class ApiKey:
    """A key sent as it is: `Bearer <key>` (CometAPI, and the demo simulator)."""

    def __init__(self, key: Secret | str) -> None:
        self._key = key if isinstance(key, Secret) else Secret(key)

    def authorization(self) -> str:
        return f"Bearer {self._key.reveal()}"

    def hidden(self) -> tuple[str, ...]:
        return (self._key.reveal(),)

    def __repr__(self) -> str:
        return "ApiKey('********')"


def sign_token(access_key: str, secret_key: str, now: float) -> str:
    """A Kling JWT issued at `now` (Unix seconds)."""
    import jwt  # here, not at the top: with the cryptography it loads, 0.2 s of every start

    claims = {
        "iss": access_key,
        "exp": int(now) + TOKEN_LIFETIME_S,
        "nbf": int(now) - NOT_BEFORE_SLACK_S,
    }
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


class KlingToken:
    """Kling's own credential: a JWT signed with the secret key, renewed before it expires.

    `clock` gives Unix seconds (tests pass a fake one); `signed` counts the tokens made.
    """

    def __init__(
        self,
        access_key: Secret,
        secret_key: Secret,
        *,
        clock: Callable[[], float] = time.time,
        renew_before_s: float = RENEW_BEFORE_S,
    ) -> None:
        self._access = access_key
        self._secret = secret_key
        self._clock = clock
        self._renew_before = renew_before_s
        self._lock = threading.Lock()
        self._token = ""
        self._earlier: collections.deque[str] = collections.deque(maxlen=KEPT_TOKENS)
        self._expires = 0.0
        self.signed = 0

    def token(self) -> str:
        """The current token, signed again when less than `renew_before_s` is left."""
        with self._lock:
            now = self._clock()
            if not self._token or self._expires - now < self._renew_before:
                if self._token:
                    self._earlier.append(self._token)
                self._token = sign_token(self._access.reveal(), self._secret.reveal(), now)
                self._expires = int(now) + TOKEN_LIFETIME_S
                self.signed += 1
            return self._token

    def authorization(self) -> str:
        return f"Bearer {self.token()}"

    def hidden(self) -> tuple[str, ...]:
        """What an error must never show: the keys, the token and the ones before it (a
        request signed before another thread renewed it may echo the older one)."""
        with self._lock:
            tokens = (self._token, *self._earlier) if self._token else tuple(self._earlier)
        return (self._secret.reveal(), self._access.reveal(), *tokens)

    def __repr__(self) -> str:
        return "KlingToken(access_key='********', secret_key='********')"
