"""Fetching a file from a URL somebody typed in, without letting it reach inside.

The URL is untrusted: only http and https; the host is resolved once, every address it
resolves to must be public (not loopback, private, link-local, multicast, reserved or
unspecified), and the connection goes to exactly that checked address (the request names
the IP literal, with the real name in the Host header and as the TLS server name, so the
certificate is still checked against the name). Redirects are followed by hand, each one
checked the same way. The body comes through the one capped downloader
(storage/download.py), under a size cap and a deadline.

`allow_private=True` (Settings.allow_private_urls, for local development and tests) lifts
the address check only; everything else still applies.

Messages quote URLs without their user name, password, query or fragment: those often
carry tokens.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import re
import socket
import time
from collections.abc import Callable
from urllib.parse import unquote

import httpx

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import InputError, UnsafeURLError
from avatar_core.storage.download import TooLarge, TooSlow, fetch_bytes
from avatar_core.units import format_bytes

ALLOWED_SCHEMES = ("http", "https")
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HEADERS = {
    "User-Agent": "TalkingAvatarStudio/0.1 (+input fetcher)",
    "Accept-Encoding": "identity",
    "Accept": "*/*",
}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def redact_url(url: str | httpx.URL, limit: int = 100) -> str:
    """The URL as it may be shown: scheme, host, port and path only, shortened."""
    shown = ""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url).strip())
        if parsed.scheme and parsed.host:
            host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
            port = f":{parsed.port}" if parsed.port is not None else ""
            shown = f"{parsed.scheme}://{host}{port}{parsed.path}"
    except (httpx.InvalidURL, TypeError, ValueError):
        pass
    if not shown:
        shown = str(url).strip().split("?", 1)[0].split("#", 1)[0]
        shown = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", shown)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def blocked_reason(address: IPAddress) -> Message | None:
    """Why an address may not be fetched from ("a private address"), or None when public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    checks = (
        (address.is_unspecified, "url.unspecified"),
        (address.is_loopback, "url.loopback"),
        (address.is_link_local, "url.link_local"),
        (address.is_multicast, "url.multicast"),
        (address.is_private, "url.private"),
        (address.is_reserved, "url.reserved"),
        (not address.is_global, "url.not_global"),
    )
    for hit, reason in checks:
        if hit:
            return sentence_for(reason)
    return None


def _refused(what: str, shown: str, rest: Message, *, unsafe: bool = False) -> InputError:
    """The sentence `The <what> URL <shown> <rest>`, tagged with the input it is about;
    UnsafeURLError when the URL may not be fetched at all."""
    kind = UnsafeURLError if unsafe else InputError
    return kind(sentence_for("url.refused", what=what, shown=shown, rest=rest), field=what)


def resolve_host(
    host: str, port: int, *, allow_private: bool = False, what: str = "file", shown: str = ""
) -> list[str]:
    """Resolve `host` once; return the addresses to connect to, every one of them checked.

    Raises UnsafeURLError when any address is not public (unless `allow_private`), and
    InputError when the name does not resolve.
    """
    shown = shown or host
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise _refused(what, shown, sentence_for("url.host_not_found", host=host)) from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError as exc:
            raise _refused(
                what,
                shown,
                sentence_for("url.not_ip"),
                unsafe=True,
            ) from exc
        reason = None if allow_private else blocked_reason(address)
        if reason:
            raise _refused(
                what,
                shown,
                sentence_for("url.blocked", address=address, reason=reason),
                unsafe=True,
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise _refused(what, shown, sentence_for("url.no_address", host=host))
    return addresses


def _parse(url: str | httpx.URL, what: str) -> httpx.URL:
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise _refused(
            what,
            redact_url(str(url)),
            sentence_for("url.invalid"),
        ) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "none"
        raise UnsafeURLError(sentence_for("url.scheme", what=what, scheme=scheme), field=what)
    if not parsed.host:
        raise _refused(what, redact_url(parsed), sentence_for("url.no_host"))
    return parsed


def _host_header(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port}" if url.port is not None else host


def _basic_auth(url: httpx.URL) -> str | None:
    if not url.userinfo:
        return None
    user, _, password = url.userinfo.decode("ascii").partition(":")
    token = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def _origin(url: httpx.URL) -> tuple[str, bytes, int]:
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    return url.scheme, url.raw_host, port


def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 20.0,
    allow_private: bool = False,
    what: str = "file",
) -> bytes:
    """Download `url` safely and return its body.

    `timeout` bounds each network operation and the whole download (all redirects
    included). Raises UnsafeURLError for a URL that may not be fetched or a body larger
    than `max_bytes`, and InputError when it cannot be fetched.
    """
    current = _parse(url, what)
    origin = _origin(current)
    auth = _basic_auth(current)
    deadline = time.monotonic() + timeout
    with httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,  # a proxy would defeat the address pinning
    ) as client:
        fetch = functools.partial(fetch_bytes, client, max_bytes=max_bytes, deadline=deadline)
        for _hop in range(MAX_REDIRECTS + 1):
            shown = redact_url(current)
            port = _origin(current)[2]
            addresses = resolve_host(
                current.host, port, allow_private=allow_private, what=what, shown=shown
            )
            headers = dict(_HEADERS, Host=_host_header(current))
            if auth and _origin(current) == origin:
                headers["Authorization"] = auth
            got = _get(fetch, current, addresses, headers, timeout=timeout, what=what, shown=shown)
            if isinstance(got, bytes):
                return got
            try:
                current = _parse(current.join(got), what)
            except UnsafeURLError as exc:
                raise _refused(
                    what,
                    shown,
                    sentence_for("url.redirect_scheme"),
                    unsafe=True,
                ) from exc
    raise _refused(
        what,
        redact_url(url),
        sentence_for("url.redirects", count=MAX_REDIRECTS),
    )


def _get(
    fetch: Callable[..., bytes],
    url: httpx.URL,
    addresses: list[str],
    headers: dict[str, str],
    *,
    timeout: float,
    what: str,
    shown: str,
) -> bytes | str:
    """GET `url` from one of the checked `addresses`: the body, or a redirect's Location."""
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    last_error: Exception | None = None
    for address in addresses:
        pinned = url.copy_with(host=address, userinfo=b"", fragment=None)
        try:
            return fetch(pinned, headers=headers, extensions=extensions)
        except httpx.HTTPStatusError as exc:
            return _location(exc.response, what, shown)
        except httpx.ConnectError as exc:
            last_error = exc  # try the next checked address
        except httpx.TimeoutException as exc:
            raise _refused(
                what,
                shown,
                sentence_for("url.no_answer", seconds=timeout),
            ) from exc
        except httpx.HTTPError as exc:
            raise _refused(
                what,
                shown,
                sentence_for("url.connection_failed"),
            ) from exc
        except TooLarge as exc:
            raise _too_large(exc, what, shown) from None
        except TooSlow:
            raise InputError(
                sentence_for("url.too_slow", what=what, shown=shown, seconds=timeout), field=what
            ) from None
    if "CERTIFICATE" in str(last_error or "").upper():
        raise _refused(
            what,
            shown,
            sentence_for("url.tls"),
        ) from last_error
    raise _refused(
        what,
        shown,
        sentence_for("url.unreachable"),
    ) from last_error


def _location(response: httpx.Response, what: str, shown: str) -> str:
    """Where a redirect points; InputError for any other answer that is not the file."""
    status = response.status_code
    if status not in _REDIRECT_STATUSES:
        phrase = response.reason_phrase or "error"
        raise _refused(
            what,
            shown,
            sentence_for("url.http_status", status=status, phrase=phrase),
        )
    location = response.headers.get("location")
    if not location:
        raise _refused(
            what,
            shown,
            sentence_for("url.redirect_nowhere", status=status),
        )
    return location


def _too_large(exc: TooLarge, what: str, shown: str) -> UnsafeURLError:
    limit = format_bytes(exc.limit)
    if exc.declared is not None:
        return UnsafeURLError(
            sentence_for(
                "url.declared_too_large",
                what=what,
                shown=shown,
                size=format_bytes(exc.declared),
                maximum=limit,
            ),
            field=what,
        )
    return UnsafeURLError(
        sentence_for("url.too_large", what=what, shown=shown, maximum=limit), field=what
    )
