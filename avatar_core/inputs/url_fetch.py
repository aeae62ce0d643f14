"""Fetching a file from a URL somebody typed in, without letting it reach inside.

The URL is untrusted: only http and https; the host is resolved once, every address it
resolves to must be public (not loopback, private, link-local, multicast, reserved or
unspecified), and the connection goes to exactly that checked address (the request names
the IP literal, with the real name in the Host header and as the TLS server name, so the
certificate is still checked against the name). Redirects are followed by hand, each one
checked the same way. The body is read as a stream under a size cap and a deadline.

`allow_private=True` (Settings.allow_private_urls, for local development and tests) lifts
the address check only; everything else still applies.

Messages quote URLs without their user name, password, query or fragment: those often
carry tokens.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
import time
from urllib.parse import unquote

import httpx

from avatar_core.errors import InputError, UnsafeURLError
from avatar_core.units import format_bytes

ALLOWED_SCHEMES = ("http", "https")
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USER_AGENT = "TalkingAvatarStudio/0.1 (+input fetcher)"

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


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address may not be fetched from ("a private address"), or None when public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address (this machine)"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private network address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public internet address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


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
        raise InputError(
            f"The {what} URL {shown} names a host ({host}) that could not be found; "
            "check the address.",
            field=what,
        ) from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError as exc:
            raise UnsafeURLError(
                f"The {what} URL {shown} resolves to an address that is not an IP address; "
                "use a public http(s) link.",
                field=what,
            ) from exc
        reason = None if allow_private else blocked_reason(address)
        if reason:
            raise UnsafeURLError(
                f"The {what} URL {shown} points at {address}, {reason}; only files on the "
                "public internet can be fetched: upload the file instead.",
                field=what,
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise InputError(
            f"The {what} URL {shown} names a host ({host}) with no address; check the address.",
            field=what,
        )
    return addresses


def _parse(url: str | httpx.URL, what: str) -> httpx.URL:
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InputError(
            f"The {what} URL {redact_url(str(url))} is not a valid web address; "
            "give an http:// or https:// link.",
            field=what,
        ) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "none"
        raise UnsafeURLError(
            f"The {what} URL uses the scheme '{scheme}'; only http:// and https:// links "
            "can be fetched: use a web link or upload the file.",
            field=what,
        )
    if not parsed.host:
        raise InputError(
            f"The {what} URL {redact_url(parsed)} has no host name; give a full "
            "https://host/path link.",
            field=what,
        )
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


def _effective_port(url: httpx.URL) -> int:
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80


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
    origin = (current.scheme, current.raw_host, _effective_port(current))
    auth = _basic_auth(current)
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}
    with httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,  # a proxy would defeat the address pinning
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            shown = redact_url(current)
            addresses = resolve_host(
                current.host,
                _effective_port(current),
                allow_private=allow_private,
                what=what,
                shown=shown,
            )
            same_origin = (current.scheme, current.raw_host, _effective_port(current)) == origin
            request_headers = dict(headers, Host=_host_header(current))
            if auth and same_origin:
                request_headers["Authorization"] = auth
            location = _get(
                client,
                current,
                addresses,
                request_headers,
                max_bytes=max_bytes,
                deadline=deadline,
                timeout=timeout,
                what=what,
                shown=shown,
            )
            if isinstance(location, bytes):
                return location
            try:
                current = _parse(current.join(location), what)
            except UnsafeURLError as exc:
                raise UnsafeURLError(
                    f"The {what} URL {shown} redirects to a link that is not http(s); "
                    "give the final address of the file.",
                    field=what,
                ) from exc
    raise InputError(
        f"The {what} URL {redact_url(url)} redirects more than {MAX_REDIRECTS} times; "
        "give the final address of the file.",
        field=what,
    )


def _get(
    client: httpx.Client,
    url: httpx.URL,
    addresses: list[str],
    headers: dict[str, str],
    *,
    max_bytes: int,
    deadline: float,
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
            with client.stream("GET", pinned, headers=headers, extensions=extensions) as response:
                return _read(response, max_bytes, deadline, timeout, what, shown)
        except httpx.ConnectError as exc:
            last_error = exc  # try the next checked address
        except httpx.TimeoutException as exc:
            raise InputError(
                f"The {what} URL {shown} did not answer within {timeout:.0f} s; "
                "try again later or upload the file.",
                field=what,
            ) from exc
        except httpx.HTTPError as exc:
            raise InputError(
                f"The {what} URL {shown} could not be downloaded (the connection failed); "
                "try again later or upload the file.",
                field=what,
            ) from exc
    detail = str(last_error or "")
    if "CERTIFICATE" in detail.upper():
        raise InputError(
            f"The {what} URL {shown} has a TLS certificate that is not valid; "
            "use another link or upload the file.",
            field=what,
        ) from last_error
    raise InputError(
        f"The {what} URL {shown} could not be reached (connection refused or no route); "
        "check the link or upload the file.",
        field=what,
    ) from last_error


def _read(
    response: httpx.Response,
    max_bytes: int,
    deadline: float,
    timeout: float,
    what: str,
    shown: str,
) -> bytes | str:
    status = response.status_code
    if status in _REDIRECT_STATUSES:
        location = response.headers.get("location")
        if not location:
            raise InputError(
                f"The {what} URL {shown} answered a redirect (HTTP {status}) without a "
                "destination; give the final address of the file.",
                field=what,
            )
        return location
    if status != 200:
        phrase = response.reason_phrase or "error"
        raise InputError(
            f"The {what} URL {shown} answered HTTP {status} ({phrase}) instead of the file; "
            "check that the link is public and points at the file itself.",
            field=what,
        )
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeURLError(
            f"The {what} at {shown} is {format_bytes(int(declared))}; the most this app "
            f"downloads is {format_bytes(max_bytes)}: use a smaller file.",
            field=what,
        )
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise UnsafeURLError(
                f"The {what} at {shown} is larger than {format_bytes(max_bytes)}, the most "
                "this app downloads: use a smaller file.",
                field=what,
            )
        if time.monotonic() > deadline:
            raise InputError(
                f"The {what} at {shown} did not finish downloading within {timeout:.0f} s; "
                "try again later or upload the file.",
                field=what,
            )
        chunks.append(chunk)
    return b"".join(chunks)
