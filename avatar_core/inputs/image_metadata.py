"""Removing metadata from JPEG and PNG files without re-encoding their pixels.

A photo that already meets Kling's rules is sent with its picture data untouched (no
second JPEG generation), minus what could identify the person or the place: EXIF (camera,
date, GPS), XMP, IPTC, comments, text chunks, embedded thumbnails and extra images.
Colour information (JFIF, ICC profiles, Adobe's colour transform, sRGB/gAMA/cHRM) stays.

Each function returns None when the file's structure is not what it should be; the caller
then falls back to decoding and re-encoding, which reports damage properly.
"""

from __future__ import annotations

import struct

from avatar_core.catalogue import Message, sentence_for

TRAILING = "extra data after the picture"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that carry pixels or colour, kept as they are; every other chunk is dropped.
_PNG_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
    b"cICP",
    b"mDCv",
    b"cLLi",
}


def _jpeg_app_label(marker: int, payload: bytes) -> str | None:
    """What an APPn/COM segment is, when it is dropped; None when it is kept."""
    if marker == 0xE0:
        return None if payload.startswith(b"JFIF\x00") else "thumbnail"
    if marker == 0xE1:
        if payload.startswith(b"Exif\x00"):
            return "EXIF"
        if payload.startswith(b"http://ns.adobe.com/"):
            return "XMP"
        return "camera data"
    if marker == 0xE2:
        if payload.startswith(b"ICC_PROFILE\x00"):
            return None
        return "extra images" if payload.startswith(b"MPF\x00") else "camera data"
    if marker == 0xED:
        return "IPTC"
    if marker == 0xEE:
        return None if payload.startswith(b"Adobe") else "camera data"
    if marker == 0xFE:
        return "comment"
    if 0xE3 <= marker <= 0xEF:
        return "camera data"
    return None


def strip_jpeg(data: bytes) -> tuple[bytes, list[str]] | None:
    """The JPEG without metadata segments and without anything after its end marker.

    Returns (new bytes, labels of what was dropped) or None when the structure is broken.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    dropped: list[str] = []
    size = len(data)
    i = 2
    while i < size:
        if data[i] != 0xFF:
            return None
        while i < size and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= size:
            return None
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image
            out.append(b"\xff\xd9")
            if i < size:
                dropped.append(TRAILING)
            return b"".join(out), dropped
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(bytes((0xFF, marker)))
            continue
        if i + 2 > size:
            return None
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2 or i + length > size:
            return None
        payload = data[i + 2 : i + length]
        segment = bytes((0xFF, marker)) + data[i : i + length]
        i += length
        label = _jpeg_app_label(marker, payload) if marker >= 0xE0 else None
        if label is not None:
            dropped.append(label)
            continue
        out.append(segment)
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            j = i
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= size:
                    return None
                following = data[j + 1]
                if following == 0xFF:
                    j += 1
                elif following == 0x00 or 0xD0 <= following <= 0xD7:
                    j += 2
                else:
                    break
            out.append(data[i:j])
            i = j
    return None


def _png_text_label(chunk_type: bytes, body: bytes) -> str:
    if chunk_type == b"eXIf":
        return "EXIF"
    if chunk_type == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00"):
        return "XMP"
    if chunk_type in (b"tEXt", b"zTXt", b"iTXt"):
        return "text notes"
    if chunk_type == b"tIME":
        return "timestamp"
    return "other data"


def strip_png(data: bytes) -> tuple[bytes, list[str]] | None:
    """The PNG with only pixel and colour chunks, ending at IEND.

    Returns (new bytes, labels of what was dropped) or None when the structure is broken.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return None
    out = [_PNG_SIGNATURE]
    dropped: list[str] = []
    size = len(data)
    i = len(_PNG_SIGNATURE)
    while i + 12 <= size:
        (length,) = struct.unpack(">I", data[i : i + 4])
        chunk_type = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > size:
            return None
        if chunk_type in _PNG_KEEP:
            out.append(data[i:end])
        else:
            dropped.append(_png_text_label(chunk_type, data[i + 8 : i + 8 + length]))
        i = end
        if chunk_type == b"IEND":
            if i < size:
                dropped.append(TRAILING)
            return b"".join(out), dropped
    return None


def png_exif(data: bytes) -> bytes | None:
    """The body of the PNG's eXIf chunk, wherever it is (before or after the pixels), found
    by walking the chunks; None when there is none or the structure is broken."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    i = len(_PNG_SIGNATURE)
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        chunk_type = data[i + 4 : i + 8]
        if chunk_type == b"eXIf":
            return data[i + 8 : i + 8 + length]
        if chunk_type == b"IEND":
            return None
        i += 12 + length
    return None


def describe_dropped(labels: list[str], *, gps: bool) -> Message | None:
    """One sentence for people about removed metadata, or None when nothing was removed."""
    kinds: list[str] = []
    for label in labels:
        text = sentence_for("image.exif_gps") if label == "EXIF" and gps else label
        if text not in kinds:
            kinds.append(text)
    if not kinds:
        return None
    return sentence_for("image.metadata_removed", kinds=", ".join(kinds))
