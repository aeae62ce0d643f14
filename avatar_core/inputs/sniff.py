"""What kind of file a byte string is, from its first bytes (never from its name).

Used to pick ffmpeg's demuxer explicitly (so a file cannot steer ffmpeg into playlist or
concat demuxers that read other files or URLs) and to explain a wrong file in a sentence:
"it looks like a PDF document".
"""

from __future__ import annotations

from dataclasses import dataclass

from avatar_core.catalogue import sentence_for


@dataclass(frozen=True)
class Kind:
    """A recognised file type."""

    name: str  # short name for people: "MP3", "WAV", "PNG"
    family: str  # "audio", "media" (audio or video), "image", "document", "archive", "text"
    described: str  # for sentences: sentence_for("kind.mp3")
    demuxer: str | None = None  # ffmpeg's -f for containers that can hold sound


# ISO base media brands (bytes 8..12 of an `ftyp` box) that are still pictures.
_IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def _mpeg_audio_kind(data: bytes, offset: int) -> Kind | None:
    """An MPEG audio frame header (MP3/MP2) or an ADTS AAC header at `offset`."""
    if len(data) < offset + 4:
        return None
    b0, b1, b2 = data[offset], data[offset + 1], data[offset + 2]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    layer = (b1 >> 1) & 0x03
    if layer == 0:
        if (b1 & 0xF6) == 0xF0 and ((b2 >> 2) & 0x0F) < 13:
            return Kind("AAC", "audio", sentence_for("kind.aac"), "aac")
        return None
    version = (b1 >> 3) & 0x03
    bitrate_index = (b2 >> 4) & 0x0F
    rate_index = (b2 >> 2) & 0x03
    if version == 1 or bitrate_index == 0x0F or rate_index == 3:
        return None
    return Kind("MP3", "audio", sentence_for("kind.mp3"), "mp3")


def _after_id3(data: bytes) -> int:
    """The offset just past an ID3v2 tag at the start of `data`."""
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def sniff(data: bytes) -> Kind | None:
    """The kind of file `data` holds, or None when it is not recognised."""
    head = data[:64]
    if len(head) < 4:
        return None
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return Kind("WAV", "audio", sentence_for("kind.wav"), "wav")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind("WebP", "image", sentence_for("kind.webp"))
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Kind("AVI", "media", sentence_for("kind.avi"), "avi")
    if head[:3] == b"ID3" and len(data) >= 10:
        found = _mpeg_audio_kind(data, _after_id3(data))
        if found is not None and found.name == "AAC":
            return found
        return Kind("MP3", "audio", sentence_for("kind.mp3"), "mp3")
    mpeg = _mpeg_audio_kind(data, 0)
    if mpeg is not None:
        return mpeg
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            name = "AVIF" if brand.startswith(b"avi") else "HEIC"
            return Kind(name, "image", sentence_for("kind.picture", name=name))
        if brand in _AUDIO_BRANDS:
            return Kind("M4A", "media", sentence_for("kind.m4a"), "mov")
        if brand.startswith(b"qt"):
            return Kind("MOV", "media", sentence_for("kind.quicktime"), "mov")
        if brand.startswith(b"3g"):
            return Kind("3GP", "media", sentence_for("kind.3gp"), "mov")
        return Kind("MP4", "media", sentence_for("kind.mp4"), "mov")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return Kind("MOV", "media", sentence_for("kind.quicktime"), "mov")
    if head[:4] == b"OggS":
        return Kind("Ogg", "audio", sentence_for("kind.ogg"), "ogg")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in data[:64]:
            return Kind("WebM", "media", sentence_for("kind.webm"), "matroska")
        return Kind("Matroska", "media", sentence_for("kind.mkv"), "matroska")
    if head[:4] == b"fLaC":
        return Kind("FLAC", "audio", sentence_for("kind.flac"), "flac")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Kind("AIFF", "audio", sentence_for("kind.aiff"), "aiff")
    if head[:4] == b"caff":
        return Kind("CAF", "audio", sentence_for("kind.caf"), "caf")
    if head[:5] == b"#!AMR":
        return Kind("AMR", "audio", sentence_for("kind.amr"), "amr")
    if head[:3] == b"\xff\xd8\xff":
        return Kind("JPEG", "image", sentence_for("kind.jpeg"))
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return Kind("PNG", "image", sentence_for("kind.png"))
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Kind("GIF", "image", sentence_for("kind.gif"))
    if head[:2] == b"BM":
        return Kind("BMP", "image", sentence_for("kind.bmp"))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Kind("TIFF", "image", sentence_for("kind.tiff"))
    if head[:4] == b"%PDF":
        return Kind("PDF", "document", sentence_for("kind.pdf"))
    if head[:4] == b"PK\x03\x04":
        return Kind("ZIP", "archive", sentence_for("kind.zip"))
    if head[:6] == b"7z\xbc\xaf\x27\x1c" or head[:4] == b"Rar!":
        return Kind("archive", "archive", sentence_for("kind.archive"))
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return Kind("HTML", "text", sentence_for("kind.html"))
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:1024].lower()):
        return Kind("SVG", "image", sentence_for("kind.svg"))
    if text.startswith((b"#extm3u", b"[playlist]")):
        return Kind("playlist", "text", sentence_for("kind.playlist"))
    if text.startswith((b"{", b"[")):
        return Kind("JSON", "text", sentence_for("kind.json"))
    return None
