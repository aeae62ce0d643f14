"""The text to speech audio, copied home so that a person can listen to it.

The provider answers text to speech with a link to the audio. The app plays a local copy
instead of the link: links expire, and Gradio refuses to fetch links to loopback or
private hosts, which is where the demo simulator serves its audio. The link comes from
the provider, like a finished video's; no key is sent with it. One try: a preview that
fails costs only the preview.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from avatar_core.errors import ResultDownloadError
from avatar_core.storage.download import TooLarge, fetch_to_file, safe_file_name
from avatar_core.timeouts import DEFAULT_HTTP_TIMEOUT_S
from avatar_core.words import say

SPEECH_FOLDER = "speech"
MAX_SPEECH_BYTES = 20 * 1024 * 1024  # a minute of speech is well under 2 MB
_AUDIO_SUFFIXES = (".mp3", ".wav", ".m4a", ".aac", ".ogg")


def speech_path(data_dir: Path, audio_id: str, url: str) -> Path:
    """`<data_dir>/speech/<audio_id>.<suffix of the link, mp3 by default>`."""
    suffix = Path(urlsplit(url).path).suffix.lower()
    suffix = suffix if suffix in _AUDIO_SUFFIXES else ".mp3"
    return Path(data_dir) / SPEECH_FOLDER / f"{safe_file_name(audio_id or 'speech')}{suffix}"


def save_speech(
    url: str, data_dir: Path, audio_id: str, *, timeout: float = DEFAULT_HTTP_TIMEOUT_S
) -> Path:
    """Copy the speech at `url` into the data folder; its path. ResultDownloadError if not.

    `timeout` is how long the provider may take to answer (Settings.http_timeout_s).
    """
    if not url.lower().startswith(("http://", "https://")):
        raise ResultDownloadError(say("speech.link_not_http"))
    destination = speech_path(data_dir, audio_id, url)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            return fetch_to_file(client, url, destination, max_bytes=MAX_SPEECH_BYTES)
    except httpx.HTTPStatusError as exc:
        raise ResultDownloadError(
            say("speech.fetch_status", status=exc.response.status_code)
        ) from None
    except httpx.HTTPError:
        raise ResultDownloadError(say("speech.fetch_failed")) from None
    except TooLarge:
        raise ResultDownloadError(say("speech.file_too_large")) from None
    except OSError as error:
        raise ResultDownloadError(say("speech.not_saved", reason=error.strerror or error)) from None
