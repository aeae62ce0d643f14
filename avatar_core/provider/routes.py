"""Which query route answers for each base URL, remembered in the data folder.

No source confirms which path CometAPI serves for avatar queries (docs/provider.md), so the
client tries Kling's avatar route, then the generic one, and remembers the first that
answered with a task. The memory is `<data_dir>/provider_routes.json` ({base URL: route
template}), so a restart does not rediscover it; without a data folder it lives in memory.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from avatar_core.storage.atomic import write_atomically

log = logging.getLogger(__name__)

ROUTES_FILE = "provider_routes.json"


class RouteMemory:
    """The working query route per base URL. Thread-safe; a damaged file is ignored."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.path = Path(data_dir) / ROUTES_FILE if data_dir is not None else None
        self._lock = threading.Lock()
        self._known: dict[str, str] = self._read()

    def get(self, base_url: str) -> str | None:
        with self._lock:
            return self._known.get(base_url)

    def remember(self, base_url: str, template: str) -> None:
        """Keep `template` as the route that answers for `base_url` (written at once)."""
        with self._lock:
            if self._known.get(base_url) == template:
                return
            self._known[base_url] = template
            known = dict(self._known)
        self._write(known)

    def _read(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s (%s): the query route will be found again", self.path, exc)
            return {}
        if not isinstance(found, dict):
            return {}
        return {str(k): str(v) for k, v in found.items() if isinstance(v, str)}

    def _write(self, known: dict[str, str]) -> None:
        """Atomically; a folder that cannot be written only costs a rediscovery later."""
        if self.path is None:
            return
        try:
            write_atomically(self.path, json.dumps(known, indent=1, sort_keys=True))
        except OSError as exc:
            log.warning("could not remember the query route in %s (%s)", self.path, exc)
