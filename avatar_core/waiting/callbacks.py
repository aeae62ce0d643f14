"""Provider callbacks: a secret per task in the callback URL, and nothing else trusted.

A create carries `callback_url=<public>/kling/callback/<secret>`. When the provider calls
it, the scheduler checks that task at once; the body is never believed (anyone who guessed
the URL could send anything), so it is only size-capped and dropped. Unknown or retired
secrets get 404.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass

from avatar_core.waiting.scheduler import PollScheduler

CALLBACK_PATH = "/kling/callback/"
MAX_CALLBACK_BYTES = 64 * 1024


@dataclass
class _Binding:
    base_url: str | None = None
    task_id: str | None = None


class CallbackRegistry:
    """Live callback secrets, each bound to one task once its create has answered."""

    def __init__(self, scheduler: PollScheduler) -> None:
        self._scheduler = scheduler
        self._live: dict[str, _Binding] = {}
        self._lock = threading.Lock()

    def new_url(self, public_url: str) -> tuple[str, str]:
        """A fresh (secret, callback URL) for a create about to be sent."""
        secret = secrets.token_urlsafe(32)
        with self._lock:
            self._live[secret] = _Binding()
        return secret, public_url.rstrip("/") + CALLBACK_PATH + secret

    def bind(self, secret: str, base_url: str, task_id: str) -> None:
        with self._lock:
            if secret in self._live:
                self._live[secret] = _Binding(base_url, task_id)

    def retire(self, secret: str | None) -> None:
        if secret:
            with self._lock:
                self._live.pop(secret, None)

    def receive(self, secret: str, body: bytes = b"") -> bool:
        """A callback arrived; False (answer 404) when the secret is not live.

        The body only decides how urgent a check is: one that says the task ended (or that
        cannot be read) makes the scheduler check at once; "processing" waits its turn.
        """
        with self._lock:
            binding = self._live.get(secret)
        if binding is None:
            return False
        if binding.task_id and binding.base_url and _may_have_ended(body):
            self._scheduler.nudge(binding.base_url, binding.task_id)
        return True


def _may_have_ended(body: bytes) -> bool:
    try:
        status = json.loads(body).get("task_status") if body else None
    except (ValueError, AttributeError):
        return True
    return str(status or "").lower() not in ("submitted", "processing")
