"""Who may call the simulator, and what state each account is in.

Keys are never stored as given: an account is known by a short hash of its key, so the key
cannot leak through the simulator's stats, task records or logs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from avatar_core.simulator.wire import WireError

ACCOUNT_STATES: tuple[str, ...] = ("ok", "no_credit", "arrears", "no_permission")

# state -> (code, message, routes it blocks)
_BLOCKS: dict[str, tuple[int, str, frozenset[str]]] = {
    "no_credit": (
        1102,
        "Account balance not enough: the resource pack is used up or expired",
        frozenset({"create", "tts"}),
    ),
    "arrears": (1101, "Account is in arrears, please recharge", frozenset({"create", "tts"})),
    "no_permission": (
        1103,
        "Your account has no permission to access this API or model",
        frozenset({"create", "tts", "query"}),
    ),
}


def account_id(key: str) -> str:
    """A stable, non-reversible name for the account a key belongs to."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def bearer_key(authorization: str | None) -> str:
    """The key in an `Authorization: Bearer <key>` header; raises WireError 1001/1002."""
    value = (authorization or "").strip()
    if not value:
        raise WireError(1001, "Authorization header is empty")
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer":
        raise WireError(1002, "Authorization header is invalid: expected 'Bearer <key>'")
    key = key.strip()
    if not key:
        raise WireError(1001, "Authorization header is empty: no key after 'Bearer'")
    return key


class Accounts:
    """Accepted keys and per-key account states (thread-safe)."""

    def __init__(self, accepted_keys: Iterable[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._accepted = None if accepted_keys is None else {account_id(k) for k in accepted_keys}
        self._states: dict[str, str] = {}

    def set_state(self, key: str, state: str) -> None:
        if state not in ACCOUNT_STATES:
            raise ValueError(f"unknown account state {state!r}; use one of {ACCOUNT_STATES}")
        with self._lock:
            self._states[account_id(key)] = state

    def clear_states(self) -> None:
        with self._lock:
            self._states.clear()

    def authorize(self, authorization: str | None, route: str) -> str:
        """The caller's account id; raises WireError when the call is not allowed."""
        key = bearer_key(authorization)
        account = account_id(key)
        if self._accepted is not None and account not in self._accepted:
            raise WireError(1002, "Authorization failed: the API key is invalid")
        self.check_state(account, route)
        return account

    def check_state(self, account: str, route: str) -> None:
        """Raises WireError when the account's state blocks `route`."""
        with self._lock:
            state = self._states.get(account, "ok")
        blocked = _BLOCKS.get(state)
        if blocked and route in blocked[2]:
            raise WireError(blocked[0], blocked[1])
