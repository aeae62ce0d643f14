"""Check create and TTS requests the way the provider does, one rule at a time.

Each refusal is a WireError with Kling's code (1200 for a malformed request or a missing
field, 1201 for a value out of bounds) and a message that names the field, the measured
value and the rule - the simulator is where clients learn what the provider refuses.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from PIL import Image

from avatar_core.provider.voices import (
    TTS_LANGUAGES,
    TTS_MAX_CHARS,
    TTS_MAX_SPEED,
    TTS_MIN_SPEED,
    speaks,
)
from avatar_core.simulator.audio import AudioDecodeError, decode_bytes, duration_of, sniff_audio
from avatar_core.simulator.tts import AudioClip, AudioStore
from avatar_core.simulator.wire import WireError

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB
IMAGE_MIN_SIDE = 300
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png"}
SOUND_MAX_BYTES = 5 * MB
AUDIO_MIN_SECONDS = 2.0
AUDIO_MAX_SECONDS = 60.0
PROMPT_MAX_CHARS = 2500
MODES = ("std", "pro")
FETCH_TIMEOUT_S = 10.0
_DURATION_SLACK = 0.0005  # seconds: float rounding only, not a tolerance


@dataclass(frozen=True)
class CreateRequest:
    """A create that passed every check; what the task and its render need."""

    image: bytes
    image_format: str  # "jpg" | "png"
    sound: bytes | None  # the sound_file's bytes, or None when audio_id was given
    sound_format: str | None
    audio_clip: AudioClip | None
    audio_seconds: float
    prompt: str
    mode: str
    task_id: str | None
    callback_url: str | None
    external_task_id: str | None


@dataclass(frozen=True)
class TtsRequest:
    text: str
    voice_id: str
    voice_language: str
    voice_speed: float


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object; WireError 1200 when it is not one."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(1200, f"Request body is not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise WireError(1200, "Request body must be a JSON object")
    return body


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(1200, f"{name} must be a string")
    return value


def _with_default(body: dict[str, Any], name: str, default: Any) -> Any:
    """The field's value; `default` when it is missing or null."""
    value = body.get(name)
    return default if value is None else value


def _required_text(body: dict[str, Any], name: str, limit: int, empty_hint: str = "") -> str:
    """A required, non-blank string field of at most `limit` characters."""
    value = body.get(name)
    if value is None:
        raise WireError(1200, f"{name} is required")
    if not isinstance(value, str):
        raise WireError(1200, f"{name} must be a string")
    if not value.strip():
        raise WireError(1201, f"{name} is empty{empty_hint}")
    if len(value) > limit:
        raise WireError(1201, f"{name} is {len(value)} characters; the limit is {limit}")
    return value


def _seconds(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def fetch_url(url: str, field: str, limit: int) -> bytes:
    """Download a media URL as the provider would (loopback allowed: this is a simulator)."""
    request = urllib.request.Request(url, headers={"User-Agent": "kling-simulator/1"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as answer:
            data = answer.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise WireError(
            1201, f"{field} could not be downloaded: the URL answered HTTP {exc.code}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WireError(1201, f"{field} could not be downloaded from the URL ({reason})") from exc
    return data


def media_bytes(value: Any, field: str, limit: int) -> bytes:
    """The bytes of a media field given as a URL or as raw base64 (no data: prefix)."""
    if not isinstance(value, str):
        raise WireError(1200, f"{field} must be a string: a public URL or raw base64")
    text = value.strip()
    if not text:
        raise WireError(1201, f"{field} is empty")
    if re.match(r"(?i)^https?://", text):
        data = fetch_url(text, field, limit)
    elif text[:5].lower() == "data:":
        raise WireError(
            1201,
            f"{field} must be raw base64 without a 'data:...;base64,' prefix; "
            "remove the prefix and send only the base64 text",
        )
    else:
        try:
            data = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WireError(1201, f"{field} is neither an http(s) URL nor valid base64") from exc
    if len(data) > limit:
        raise WireError(
            1201, f"{field} is larger than {limit // MB} MB; the limit is {limit // MB} MB"
        )
    if not data:
        raise WireError(1201, f"{field} is empty")
    return data


def check_image(data: bytes) -> str:
    """The image's format ("jpg"/"png") if the provider would take it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or "unknown"
            width, height = image.size
            if kind in IMAGE_FORMATS:
                image.load()
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise WireError(1201, "image could not be decoded as a picture (use JPG or PNG)") from exc
    if kind not in IMAGE_FORMATS:
        raise WireError(1201, f"image format {kind} is not supported; use JPG or PNG")
    if min(width, height) < IMAGE_MIN_SIDE:
        raise WireError(
            1201,
            f"image is {width}x{height} px; each side must be at least {IMAGE_MIN_SIDE} px",
        )
    if max(width, height) * 2 > min(width, height) * 5:  # ratio beyond 2.5, in integers
        ratio = f"{width / height:.2f}:1" if width >= height else f"1:{height / width:.2f}"
        raise WireError(
            1201,
            f"image aspect ratio is {ratio} ({width}x{height} px); "
            "it must be between 1:2.5 and 2.5:1",
        )
    return IMAGE_FORMATS[kind]


def check_duration(seconds: float, field: str, high: float = AUDIO_MAX_SECONDS) -> None:
    low = AUDIO_MIN_SECONDS
    if seconds < low - _DURATION_SLACK or seconds > high + _DURATION_SLACK:
        raise WireError(
            1201, f"{field} lasts {_seconds(seconds)} s; it must last {low:g} to {high:g} s"
        )


def check_sound(data: bytes, max_seconds: float = AUDIO_MAX_SECONDS) -> tuple[str, float]:
    """The sound file's format and its duration measured by decoding."""
    kind = sniff_audio(data)
    if kind is None:
        raise WireError(1201, "sound_file format is not supported; use MP3, WAV, M4A or AAC")
    try:
        seconds = duration_of(decode_bytes(data))
    except AudioDecodeError as exc:
        raise WireError(1201, f"sound_file could not be decoded as {kind.upper()} audio") from exc
    check_duration(seconds, "sound_file", max_seconds)
    return kind, seconds


def check_create_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The cheap checks, before any media is fetched or decoded."""
    prompt = _required_text(
        body, "prompt", PROMPT_MAX_CHARS, "; send a short description of the performance"
    )
    mode = _with_default(body, "mode", "std")
    if mode not in MODES:
        raise WireError(1201, f"mode {mode!r} is not supported; use 'std' or 'pro'")
    if body.get("image") is None:
        raise WireError(1200, "image is required")
    has_sound = body.get("sound_file") not in (None, "")
    has_audio_id = body.get("audio_id") not in (None, "")
    if has_sound and has_audio_id:
        raise WireError(1201, "send exactly one of sound_file and audio_id, not both")
    if not has_sound and not has_audio_id:
        raise WireError(1200, "one of sound_file or audio_id is required")
    callback_url = _optional_str(body, "callback_url")
    if callback_url and not re.match(r"(?i)^https?://\S+$", callback_url):
        raise WireError(1201, "callback_url must be an http(s) URL")
    external = _optional_str(body, "external_task_id")
    return {
        "prompt": prompt,
        "mode": mode,
        "task_id": _optional_str(body, "task_id"),
        "callback_url": callback_url or None,
        "external_task_id": external or None,
    }


def check_create_media(
    body: dict[str, Any],
    fields: dict[str, Any],
    audio_store: AudioStore,
    max_audio_seconds: float = AUDIO_MAX_SECONDS,
) -> CreateRequest:
    """The expensive checks: fetch or decode the image and the audio (at most
    `max_audio_seconds` of it: the gateway's part limit)."""
    image = media_bytes(body["image"], "image", IMAGE_MAX_BYTES)
    image_format = check_image(image)
    sound = sound_format = clip = None
    if body.get("sound_file") not in (None, ""):
        sound = media_bytes(body["sound_file"], "sound_file", SOUND_MAX_BYTES)
        sound_format, seconds = check_sound(sound, max_audio_seconds)
    else:
        audio_id = body["audio_id"]
        if not isinstance(audio_id, str):
            raise WireError(1200, "audio_id must be a string")
        clip = audio_store.get(audio_id)
        if clip is None:
            raise WireError(1201, f"audio_id {audio_id} was not found: use an id the TTS returned")
        seconds = clip.duration
        check_duration(seconds, "audio_id's audio", max_audio_seconds)
    return CreateRequest(
        image=image,
        image_format=image_format,
        sound=sound,
        sound_format=sound_format,
        audio_clip=clip,
        audio_seconds=seconds,
        **fields,
    )


def check_tts(body: dict[str, Any]) -> TtsRequest:
    text = _required_text(body, "text", TTS_MAX_CHARS)
    voice_id = body.get("voice_id")
    if voice_id is None:
        raise WireError(1200, "voice_id is required")
    language = body.get("voice_language")
    if language is None:
        raise WireError(1200, "voice_language is required")
    if language not in TTS_LANGUAGES:
        raise WireError(
            1201, f"voice_language {language!r} is not supported; use {' or '.join(TTS_LANGUAGES)}"
        )
    if not isinstance(voice_id, str) or not speaks(voice_id, language):
        raise WireError(1201, "Voice id not found")
    speed = _with_default(body, "voice_speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)):
        raise WireError(1200, "voice_speed must be a number")
    if not TTS_MIN_SPEED <= speed <= TTS_MAX_SPEED:
        raise WireError(
            1201, f"voice_speed {speed:g} is outside {TTS_MIN_SPEED:g} to {TTS_MAX_SPEED:g}"
        )
    return TtsRequest(text, voice_id, language, float(speed))
