"""The one capped downloader, against a real web server on loopback: whole bodies or an
error, never more than the cap, and files that appear only when complete."""

from __future__ import annotations

import time

import httpx
import pytest
from file_server import file_server

from avatar_core.storage.download import TooLarge, TooSlow, fetch_bytes, fetch_to_file

BODY = bytes(range(256)) * 400  # 100 KB, a few chunks


@pytest.fixture(scope="module")
def web():
    with file_server(BODY) as server:
        yield server


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as client:
        yield client


def test_a_body_at_the_cap_comes_whole(web, http):
    assert fetch_bytes(http, web.url("/file"), max_bytes=len(BODY)) == BODY


def test_a_declared_length_over_the_cap_is_refused_with_its_size(web, http):
    with pytest.raises(TooLarge) as caught:
        fetch_bytes(http, web.url("/declared-huge"), max_bytes=10**6)
    assert caught.value.declared == 10**12


def test_a_body_without_length_is_cut_one_byte_past_the_cap(web, http):
    assert fetch_bytes(http, web.url("/no-length"), max_bytes=len(BODY)) == BODY
    with pytest.raises(TooLarge) as caught:
        fetch_bytes(http, web.url("/no-length"), max_bytes=len(BODY) - 1)
    assert caught.value.declared is None


def test_a_body_cut_short_is_a_transport_error(web, http):
    with pytest.raises(httpx.TransportError):
        fetch_bytes(http, web.url("/short"), max_bytes=len(BODY))


def test_a_passed_deadline_stops_the_download(web, http):
    with pytest.raises(TooSlow):
        fetch_bytes(http, web.url("/file"), max_bytes=len(BODY), deadline=time.monotonic() - 1)


def test_an_answer_other_than_200_is_left_to_the_caller(web, http):
    with pytest.raises(httpx.HTTPStatusError) as caught:
        fetch_bytes(http, web.url("/busy"), max_bytes=100)
    assert caught.value.response.status_code == 503
    assert caught.value.response.headers["retry-after"] == "7"


def test_a_file_is_written_whole_and_alone(web, http, tmp_path):
    seen: list[bytes] = []
    target = tmp_path / "deep" / "folder" / "f.bin"
    assert (
        fetch_to_file(http, web.url("/file"), target, max_bytes=len(BODY), check_head=seen.append)
        == target
    )
    assert target.read_bytes() == BODY
    assert seen == [BODY[:16]]
    assert list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize(
    ("path", "cap", "error"),
    [
        ("/short", len(BODY), httpx.TransportError),
        ("/declared-huge", len(BODY), TooLarge),
        ("/no-length", len(BODY) - 1, TooLarge),
        ("/busy", len(BODY), httpx.HTTPStatusError),
    ],
)
def test_a_failed_download_leaves_nothing(web, http, tmp_path, path, cap, error):
    with pytest.raises(error):
        fetch_to_file(http, web.url(path), tmp_path / "f.bin", max_bytes=cap)
    assert list(tmp_path.iterdir()) == []


def test_a_body_its_check_refuses_is_not_kept(web, http, tmp_path):
    def refuse(head: bytes) -> None:
        raise ValueError(f"not wanted: {head[:2]!r}")

    with pytest.raises(ValueError, match="not wanted"):
        fetch_to_file(
            http, web.url("/file"), tmp_path / "f.bin", max_bytes=len(BODY), check_head=refuse
        )
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_is_an_os_error(web, http, tmp_path):
    (tmp_path / "taken").write_bytes(b"a file, not a folder")
    asked = len(web.paths)
    with pytest.raises(OSError):
        fetch_to_file(http, web.url("/file"), tmp_path / "taken" / "f.bin", max_bytes=len(BODY))
    assert len(web.paths) == asked, "nothing is downloaded that cannot be kept"
