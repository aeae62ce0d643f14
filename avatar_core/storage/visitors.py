"""Who asks: the operator, or one visitor of the app, known by a keyed hash of its id.

A visitor is a browser (a random id the browser keeps) or one API session; the page
gives its id, and the journal keeps only a keyed hash of it (as for pasted keys, see
`owners.py`), so neither the journal nor a copy of it lets anyone act as that visitor.
The command line is the operator: it sees every job and spends without limits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from avatar_core.storage.owners import keyed_tag


@dataclass(frozen=True)
class Visitor:
    """A visitor's tag (None: the operator), whether the operator shares the history with
    every visitor (AVATAR_SHARED_HISTORY, for a private team demo), and the tag of the
    network address it came from (None: not known). `speech`: the long speech (its key)
    whose part it asks for, admitted whole before any part (`SpendingLimits.hold_speech`)."""

    tag: str | None = None
    shared: bool = False
    address: str | None = None
    speech: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.tag is None

    def columns(self) -> dict[str, str | None]:
        """The journal's columns that say who asked (keyed tags only)."""
        return {"visitor": self.tag, "address": self.address}


OPERATOR = Visitor()


def visitor_tag(data_dir: Path, visitor_id: str) -> str:
    """The journal's tag for the visitor `visitor_id` (never the id itself)."""
    return keyed_tag(data_dir, "visitor\0" + visitor_id)


def address_tag(data_dir: Path, address: str) -> str:
    """The journal's tag for a visitor's network address (never the address itself); an
    IPv6 address counts as its /64 network (`network_of`)."""
    return keyed_tag(data_dir, "address\0" + network_of(address))


IPV6_NETWORK_BITS = 64  # one subscriber's network: its holder has 2**64 addresses in it


def network_of(address: str) -> str:
    """What one address limit counts: an IPv4 address itself (an IPv4-mapped IPv6 address
    too), an IPv6 address's /64 network; anything else (a host name) as it is."""
    try:
        parsed = ipaddress.ip_address(address.strip().split("%", 1)[0])  # no zone index
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    return str(ipaddress.IPv6Network(f"{parsed}/{IPV6_NETWORK_BITS}", strict=False))
