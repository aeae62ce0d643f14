"""One account at one provider, as a studio sends for it: its settings, its client, whose
jobs they are (`owner`) and the steps of its jobs.

A light object: a person's pasted key gets a session of its own (`for_key`) whose client
sends on the process's HTTP connection pool and takes its slots in the process's one request
budget (`provider/connection.py`); everything else a studio needs is the process's
(`services.py`).
"""

from __future__ import annotations

from avatar_core.clock import Clock
from avatar_core.config import Settings
from avatar_core.inputs.text import check_text
from avatar_core.jobs.services import ProcessServices
from avatar_core.jobs.steps import JobSteps
from avatar_core.provider.base import Provider, ProviderProfile
from avatar_core.provider.budget import Claim, Priority
from avatar_core.provider.choice import provider_of
from avatar_core.provider.client import ProviderClient
from avatar_core.provider.connection import ProviderConnection
from avatar_core.provider.retry import RetryPolicy
from avatar_core.provider.routes import RouteMemory
from avatar_core.storage.owners import owner_tag
from avatar_core.storage.visitors import OPERATOR, Visitor


class ProviderSession:
    """The account a studio's jobs are sent for, sending through the process's services."""

    def __init__(
        self,
        settings: Settings,
        client: ProviderClient,
        services: ProcessServices,
        owner: str | None = None,  # whose jobs these are (None: the app's own key's)
    ) -> None:
        self.settings = settings
        self.demo = settings.demo_mode
        self.owner = owner
        self.client = client
        journal, retry, clock = services.journal, services.retry, services.clock
        self.steps = JobSteps(settings, client, journal, self.demo, owner, retry, clock)
        client.connection.within(services.scheduler.budget)  # the process's one budget

    def for_key(self, key: str | None, services: ProcessServices) -> ProviderSession | None:
        """A session for a person's own key, its client on this session's connection; None
        when `key` is no other account than this session's."""
        check_text(key or "", what="API key", field="key")
        settings = self.settings.with_key(key)
        if settings.account is None or settings.credentials == self.settings.credentials:
            return None
        routes = RouteMemory(settings.data_dir) if self.demo else self.client.routes
        client = provider_client(
            settings,
            provider_of(settings).profile(settings),
            services.retry,
            services.clock,
            routes,
            connection=self.client.connection,  # the process's pool: no HTTP client per key
        )
        owner = owner_tag(settings.data_dir, settings.account.reveal())
        return ProviderSession(settings, client, services, owner)

    def scope(self, visitor: Visitor) -> str | None:
        """Whose jobs `visitor` sees among this key's: None for all of them (the operator,
        a shared history, or a pasted key, whose holder sees what it made), else its own."""
        if visitor.is_operator or visitor.shared or self.owner is not None:
            return None
        return visitor.tag

    def spender(self, visitor: Visitor) -> Visitor:
        """Who the limits count: the visitor on the operator's key, and in demo mode (free,
        but its videos fill the same disk and the same line); nobody on a pasted key (its
        holder's money)."""
        return visitor if self.owner is None else OPERATOR

    @property
    def account(self) -> str:
        """The provider account this session's creates count against (base URL and key)."""
        return f"{self.client.base_url} {self.owner or 'operator'}"

    @property
    def provider_kind(self) -> Provider:
        """Whom this session speaks to (provider/: CometAPI, Kling's own API, demo)."""
        return provider_of(self.settings)

    @property
    def provider(self) -> str:
        """Which provider this session speaks to, as the page and the command line say it:
        "Provider: Kling (api-singapore.klingai.com)", "Provider: CometAPI (...)", demo."""
        return self.provider_kind.line(self.client.base_url)


def provider_client(
    settings: Settings,
    profile: ProviderProfile,
    retry: RetryPolicy | None,
    clock: Clock,
    routes: RouteMemory,
    connection: ProviderConnection | None = None,
) -> ProviderClient:
    """A client for `profile` with the settings' timeouts, remembering its query route in
    `routes`, sending on `connection` (None: a connection of its own, with the settings'
    request budget until a studio makes it the process's)."""
    return ProviderClient(
        profile.base_url,
        profile=profile,
        retry=retry,
        clock=clock,
        timeout=settings.http_timeout_s,
        create_timeout=settings.create_timeout_s,
        routes=routes,
        connection=connection,
    )


def question_of(visitor: Visitor) -> Claim:
    """Whom a visitor's questions to the provider (key checks, lookups) are for, in the
    request budget: its turn comes with its network's and its own."""
    return Claim(Priority.QUESTION, address=visitor.address or "", visitor=visitor.tag)
