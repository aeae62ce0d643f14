"""What an MCP caller may give as a portrait or a voice: a web address, the link of a
file it uploaded to this app, or the file itself as a `data:` URL; never a path on the
server.

A web address is fetched by the core, through its guards (public addresses only, capped
sizes). A link to this app's own upload folder (`…/gradio_api/file=…`, what Gradio's
upload route and its `upload_file_to_gradio` tool give) is read from that folder, which
anyone holding the link could download anyway; nothing else of the server is read.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gradio.route_utils import get_root_url
from gradio.utils import get_upload_folder

import ui.limits as limits
from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.jobs.studio import Source

FILE_ROUTE = "/gradio_api/file="
_WEB = re.compile(r"https?://", re.IGNORECASE)
_DATA = re.compile(r"data:[^,;]*(;[^,;]*)*;base64,", re.IGNORECASE)
HOW = sentence_for("mcp:source_how")


def app_root(request: Any) -> str:
    """This app's public base URL as the caller reached it (proxies' headers included)."""
    return get_root_url(request=request, route_path=request.url.path, root_path=None)


def tool_source(
    value: str | None, *, what: str, root: str, blocked: Sequence[Path]
) -> Source | None:
    """The source the core should read for one input (None: none was given).

    Raises InputError, in one sentence, for a path on the server, a link into this app
    that is not an upload, an upload that is gone, or a malformed data: URL.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text[:5].lower() == "data:":
        return _data_url_bytes(text, what)
    if not _WEB.match(text):
        raise InputError(
            sentence_for("mcp:source_not_web", what=what, shown=_shown(text), how=HOW), field=what
        )
    if _same_app(text, root) and FILE_ROUTE in urlsplit(text).path:
        return _uploaded_file(text, what, blocked)
    return text  # the core fetches it, through its guards


def _shown(text: str) -> str:
    return f'"{text[:60]}…"' if len(text) > 60 else f'"{text}"'


def _same_app(url: str, root: str) -> bool:
    link, app = urlsplit(url), urlsplit(root)
    return link.netloc.lower() == app.netloc.lower() and link.path.startswith(app.path)


def _uploaded_file(url: str, what: str, blocked: Sequence[Path]) -> Path:
    """The file behind a link to this app's upload folder (nothing outside it is read)."""
    named = unquote(urlsplit(url).path.split(FILE_ROUTE, 1)[1])
    path = Path(os.path.realpath(named))
    folder = Path(os.path.realpath(get_upload_folder()))
    private = any(path.is_relative_to(os.path.realpath(each)) for each in blocked)
    if private or not path.is_relative_to(folder):
        raise InputError(sentence_for("mcp:source_not_uploaded", what=what, how=HOW), field=what)
    try:
        present = path.is_file()
    except OSError:  # a name too long for the file system, say: no upload has it
        present = False
    if not present:
        raise InputError(sentence_for("mcp:source_gone", what=what), field=what)
    return path


def _data_url_bytes(text: str, what: str) -> bytes:
    """The bytes of a base64 data: URL, at most the page's upload limit (the core checks
    what they are); its size is told from its length, before anything is decoded."""
    header = _DATA.match(text)
    if header is None:
        raise InputError(sentence_for("mcp:source_not_base64_file", what=what, how=HOW), field=what)
    size = (len(text) - header.end()) * 3 // 4
    most = limits.MAX_UPLOAD_BYTES
    if size > most:
        too_large = sentence_for("mcp:source_too_large", what=what, size=_mb(size), most=_mb(most))
        raise InputError(too_large, field=what)
    try:
        return base64.b64decode(text[header.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise InputError(sentence_for("mcp:source_bad_base64", what=what), field=what) from None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")
