"""Input URLs are fetched safely: public addresses only, checked after DNS and after every
redirect, pinned against rebinding, under a size cap, with no secrets in messages.

A local http.server on 127.0.0.1 plays the web; DNS cannot run here, so names are given
addresses by a stand-in for socket.getaddrinfo.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from media import PORTRAIT

from avatar_core.errors import InputError, UnsafeURLError
from avatar_core.inputs import url_fetch
from avatar_core.inputs.image import prepare_image
from avatar_core.inputs.preparation import InputPreparer
from avatar_core.inputs.url_fetch import blocked_reason, fetch_url, redact_url, resolve_host

BODY = PORTRAIT.read_bytes()
_real_getaddrinfo = socket.getaddrinfo
_real_blocked_reason = url_fetch.blocked_reason


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        self.send_response(status)
        for key, value in (headers or {"Content-Length": str(len(body))}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.seen.append((parts.path, dict(self.headers)))
        query = parse_qs(parts.query)
        if parts.path == "/portrait.jpg":
            self._send(200, BODY)
        elif parts.path == "/redirect":
            self._send(302, headers={"Location": query["to"][0], "Content-Length": "0"})
        elif parts.path.startswith("/chain/"):
            left = int(parts.path.rsplit("/", 1)[1])
            if left:
                self._send(302, headers={"Location": f"/chain/{left - 1}", "Content-Length": "0"})
            else:
                self._send(200, b"the end")
        elif parts.path == "/declared-huge":
            self._send(200, b"x" * 100, {"Content-Length": str(10**9)})
        elif parts.path == "/stream-big":  # no length: the body runs until the server closes
            self._send(200, b"y" * 300_000, {"Connection": "close"})
        elif parts.path == "/echo":
            self._send(200, repr(dict(self.headers)).encode())
        else:
            self._send(404, b"no such file")


def _start_server() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadingHTTPServer]:
    web = _start_server()
    yield web
    web.shutdown()
    web.server_close()


@pytest.fixture(scope="module")
def other_server() -> Iterator[ThreadingHTTPServer]:
    web = _start_server()
    yield web
    web.shutdown()
    web.server_close()


def base_of(web: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{web.server_address[1]}"


@pytest.fixture
def loopback_is_public(monkeypatch):
    """Let 127.0.0.1 (our test server) stand for a public address; nothing else changes."""

    def reason(address):
        return None if str(address) == "127.0.0.1" else _real_blocked_reason(address)

    monkeypatch.setattr(url_fetch, "blocked_reason", reason)


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> dict[str, int]:
    """Give names addresses; returns a live count of lookups per name."""
    calls: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            calls[host] = calls.get(host, 0) + 1
            picked = answers[host]
            address = picked[min(calls[host], len(picked)) - 1]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


# --- private addresses --------------------------------------------------------------------


def test_a_local_file_is_fetched_when_private_addresses_are_allowed(server):
    assert fetch_url(f"{base_of(server)}/portrait.jpg", max_bytes=10**6, allow_private=True) == BODY


@pytest.mark.parametrize("scheme", ["http", " HTTP"])
def test_where_strangers_type_only_web_addresses_are_taken_and_files_received_are_read(
    server, tmp_path, scheme
):
    """The app's preparer (web_only): text is a web address or nothing; a file the app
    received itself comes as a Path and is read."""
    web_only = InputPreparer(web_only=True, allow_private_urls=True)
    link = scheme + base_of(server).removeprefix("http") + "/portrait.jpg"
    assert web_only.image(link).width == 512
    received = tmp_path / "upload.jpg"
    received.write_bytes(BODY)
    assert web_only.image(received).width == 512
    for typed in (str(received), "/etc/passwd", "file:///etc/passwd", "portrait.jpg"):
        with pytest.raises(InputError) as caught:
            web_only.image(typed)
        assert str(caught.value) == (
            "The image link is not a web address: paste a link that starts with https://."
        )
    assert InputPreparer().image(str(received)).width == 512  # the command line's preparer


def test_loopback_is_refused_by_default_and_nothing_is_requested(server):
    before = len(server.seen)
    with pytest.raises(UnsafeURLError) as caught:
        fetch_url(f"{base_of(server)}/portrait.jpg", max_bytes=10**6, what="image")
    assert "127.0.0.1" in str(caught.value) and "loopback" in str(caught.value)
    assert caught.value.field == "image"
    assert len(server.seen) == before


def test_localhost_by_name_is_refused(server):
    with pytest.raises(UnsafeURLError, match="loopback"):
        fetch_url(f"http://localhost:{server.server_address[1]}/", max_bytes=100)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/portrait.jpg",  # loopback under another address
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.1.2.3/admin",  # private
        "http://[::1]:{port}/portrait.jpg",
        "http://0.0.0.0:{port}/portrait.jpg",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(server, loopback_is_public, target):
    target = target.format(port=server.server_address[1])
    with pytest.raises(UnsafeURLError, match="only files on the public internet"):
        fetch_url(f"{base_of(server)}/redirect?to={target}", max_bytes=10**6)


def test_a_redirect_to_a_public_address_is_followed(server, loopback_is_public):
    assert fetch_url(f"{base_of(server)}/redirect?to=/portrait.jpg", max_bytes=10**6) == BODY


def test_a_redirect_to_another_scheme_is_refused(server, loopback_is_public):
    with pytest.raises(UnsafeURLError, match="not http"):
        fetch_url(f"{base_of(server)}/redirect?to=file:///etc/passwd", max_bytes=10**6)


def test_five_redirects_are_followed_and_six_are_not(server):
    base = base_of(server)
    assert fetch_url(f"{base}/chain/5", max_bytes=100, allow_private=True) == b"the end"
    with pytest.raises(InputError, match="more than 5 times"):
        fetch_url(f"{base}/chain/6", max_bytes=100, allow_private=True)


# --- DNS: checked once, connected to exactly --------------------------------------------


def test_the_name_is_resolved_once_and_the_checked_address_is_used(
    monkeypatch, server, loopback_is_public
):
    # A rebinding DNS answers a safe address first and an internal one afterwards.
    calls = fake_dns(monkeypatch, {"files.example": ["127.0.0.1", "10.6.6.6"]})
    port = server.server_address[1]
    data = fetch_url(f"http://files.example:{port}/echo", max_bytes=10**5, timeout=5)
    assert calls == {"files.example": 1}
    assert f"'Host': 'files.example:{port}'" in data.decode()


def test_every_address_of_a_name_must_be_public(monkeypatch):
    fake_dns(monkeypatch, {"mixed.example": ["93.184.216.34"]})
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ],
    )
    with pytest.raises(UnsafeURLError, match=r"10\.0\.0\.7, a private network address"):
        resolve_host("mixed.example", 80)
    assert resolve_host("mixed.example", 80, allow_private=True) == ["93.184.216.34", "10.0.0.7"]


def test_https_connects_to_the_checked_address_with_the_name_for_tls(monkeypatch):
    fake_dns(monkeypatch, {"cdn.example": ["93.184.216.34"]})
    seen = {}

    def stream(self, method, url, *, headers, extensions):
        seen.update(url=url, headers=headers, extensions=extensions)
        raise httpx.ConnectError("no network here")

    monkeypatch.setattr(httpx.Client, "stream", stream)
    with pytest.raises(InputError, match="could not be reached"):
        fetch_url("https://cdn.example/a/portrait.jpg?sig=abc", max_bytes=100)
    assert seen["url"].host == "93.184.216.34" and seen["url"].scheme == "https"
    assert seen["url"].path == "/a/portrait.jpg" and seen["url"].query == b"sig=abc"
    assert seen["headers"]["Host"] == "cdn.example"
    assert seen["extensions"] == {"sni_hostname": "cdn.example"}


def test_a_name_that_does_not_resolve_is_explained(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(InputError, match="could not be found"):
        fetch_url("https://nowhere.example/x.jpg", max_bytes=100)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_internal_addresses_are_blocked(address):
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


# --- size and time ------------------------------------------------------------------------


def test_the_size_cap_at_and_just_past_the_limit(server):
    url = f"{base_of(server)}/portrait.jpg"
    assert fetch_url(url, max_bytes=len(BODY), allow_private=True) == BODY
    with pytest.raises(UnsafeURLError, match="the most this app downloads"):
        fetch_url(url, max_bytes=len(BODY) - 1, allow_private=True)


def test_a_declared_length_over_the_cap_is_refused_before_reading(server):
    with pytest.raises(UnsafeURLError) as caught:
        fetch_url(f"{base_of(server)}/declared-huge", max_bytes=10**6, allow_private=True)
    assert "1000 MB" in str(caught.value) and "1 MB" in str(caught.value)


def test_a_body_without_length_is_cut_at_the_cap(server):
    with pytest.raises(UnsafeURLError, match="larger than 100 KB"):
        fetch_url(f"{base_of(server)}/stream-big", max_bytes=100_000, allow_private=True)


def test_a_server_that_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        with pytest.raises(InputError, match="did not answer within"):
            fetch_url(
                f"http://127.0.0.1:{silent.getsockname()[1]}/x",
                max_bytes=100,
                timeout=0.3,
                allow_private=True,
            )
    finally:
        silent.close()


def test_a_closed_port_is_explained():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(InputError, match="could not be reached"):
        fetch_url(f"http://127.0.0.1:{port}/x", max_bytes=100, allow_private=True)


# --- schemes, statuses, secrets -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example/portrait.jpg",
        "gopher://files.example/",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "//files.example/portrait.jpg",
    ],
)
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(UnsafeURLError, match="only http:// and https://"):
        fetch_url(url, max_bytes=100)


def test_an_error_status_is_explained(server):
    with pytest.raises(InputError, match=r"answered HTTP 404 \(Not Found\)"):
        fetch_url(f"{base_of(server)}/missing.jpg", max_bytes=100, allow_private=True)


def test_passwords_and_query_tokens_never_appear_in_messages(server):
    port = server.server_address[1]
    url = f"http://alice:hunter2@127.0.0.1:{port}/missing.jpg?token=SECRET123#part"
    with pytest.raises(InputError) as caught:
        fetch_url(url, max_bytes=100, allow_private=True)
    message = str(caught.value)
    assert "/missing.jpg" in message
    for secret in ("hunter2", "alice", "SECRET123", "token", "part"):
        assert secret not in message
    with pytest.raises(UnsafeURLError) as refused:
        fetch_url(url, max_bytes=100)
    assert "hunter2" not in str(refused.value) and "SECRET123" not in str(refused.value)


def test_credentials_go_to_their_own_host_only(server, other_server):
    port = server.server_address[1]
    echoed = fetch_url(
        f"http://alice:hunter2@127.0.0.1:{port}/echo", max_bytes=10**5, allow_private=True
    )
    token = base64.b64encode(b"alice:hunter2").decode()
    assert f"Basic {token}" in echoed.decode()
    elsewhere = f"{base_of(other_server)}/echo"
    echoed = fetch_url(
        f"http://alice:hunter2@127.0.0.1:{port}/redirect?to={elsewhere}",
        max_bytes=10**5,
        allow_private=True,
    )
    assert "Authorization" not in echoed.decode()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host.example:8443/a/b.jpg?x=1#f", "https://host.example:8443/a/b.jpg"),
        ("http://[::1]:80/x?y", "http://[::1]/x"),
        ("ftp://bob:pw@files.example/x?k=v", "ftp://files.example/x"),
        ("not a url at all?secret", "not a url at all"),
    ],
)
def test_urls_are_shown_without_secrets(url, shown):
    assert redact_url(url) == shown


# --- end to end ---------------------------------------------------------------------------


def test_a_portrait_url_goes_through_the_same_checks(server):
    url = f"{base_of(server)}/portrait.jpg"
    assert prepare_image(url, allow_private_urls=True).data == BODY
    with pytest.raises(UnsafeURLError):
        prepare_image(url)
    with pytest.raises(UnsafeURLError, match="scheme 'file'"):
        prepare_image("file:///etc/passwd")
