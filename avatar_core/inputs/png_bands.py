"""Large PNGs decoded band by band, each band reduced at once: never the full picture.

A large 8-bit, non-interlaced PNG that is to be downscaled anyway is decoded a band of
rows at a time, and each band is reduced at once by a whole factor (the PNG counterpart
of JPEG's draft mode), so the full-size picture is never held. Each band is handed to
Pillow as a small PNG of its own whose first row is the previous band's last row,
unfiltered (the band's first filtered row refers to it). The result is the same, pixel
for pixel, as decoding everything and calling `Image.reduce`. Anything else (16-bit,
interlaced, animated) is left to Pillow.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

BAND_BYTES = 8_000_000  # about how much raw picture data one band holds

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


class DamagedPNG(ValueError):
    """The PNG's chunks or compressed data are broken (the caller says so in a sentence)."""


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    colour_type: int
    ihdr: bytes  # the IHDR body, as it is
    palette: bytes | None  # the PLTE chunk, whole, when there is one
    transparency: bytes | None  # the tRNS chunk, whole, when there is one

    @property
    def row_bytes(self) -> int:
        return self.width * _CHANNELS[self.colour_type]


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(type, body, whole chunk) of each chunk, checksums verified."""
    at = len(_SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            raise DamagedPNG("chunk runs past the end")
        body = data[at + 8 : at + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack_from(">I", data, end - 4)[0]:
            raise DamagedPNG("chunk checksum")
        yield kind, body, data[at:end]
        if kind == b"IEND":
            return
        at = end


def _header(data: bytes) -> _Header | None:
    """What band decoding needs, or None when this PNG is not one it handles."""
    if not data.startswith(_SIGNATURE):
        return None
    found: dict[bytes, bytes] = {}
    for kind, body, whole in _chunks(data):
        if kind == b"acTL":  # animated: the first frame may not be the default image
            return None
        if kind == b"IDAT":
            break
        found.setdefault(kind, body if kind == b"IHDR" else whole)
    ihdr = found.get(b"IHDR")
    if ihdr is None or len(ihdr) != 13:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", ihdr
    )
    if depth != 8 or colour not in _CHANNELS or (compression, filtering, interlace) != (0, 0, 0):
        return None
    return _Header(width, height, colour, ihdr, found.get(b"PLTE"), found.get(b"tRNS"))


class _Inflated:
    """The PNG's image data, inflated on demand: never more than asked for at once."""

    def __init__(self, data: bytes) -> None:
        self._bodies = (body for kind, body, _ in _chunks(data) if kind == b"IDAT")
        self._inflater = zlib.decompressobj()
        self._tail = b""
        self._last_body_read = False

    def read(self, size: int) -> bytes:
        """`size` bytes, or fewer when the data ends first."""
        out = bytearray()
        while len(out) < size:
            if not self._tail and not self._last_body_read:
                body = next(self._bodies, None)
                self._last_body_read = body is None
                self._tail = body or b""
            try:
                piece = self._inflater.decompress(self._tail, size - len(out))
            except zlib.error as exc:
                raise DamagedPNG("compressed data") from exc
            self._tail = self._inflater.unconsumed_tail
            out += piece
            if not piece and not self._tail and self._last_body_read:
                break  # no more data: the caller finds the rows short
        return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _band_png(header: _Header, raw_rows: bytes, rows: int) -> bytes:
    """A PNG of `rows` rows holding `raw_rows` (filter byte first in each row)."""
    ihdr = struct.pack(">II", header.width, rows) + header.ihdr[8:]
    extra = (header.palette or b"") + (header.transparency or b"")
    return (
        _SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + extra
        + _chunk(b"IDAT", zlib.compress(raw_rows, 0))
        + _chunk(b"IEND", b"")
    )


def _reducible(band: Image.Image) -> Image.Image:
    """The band in a mode `Image.reduce` takes, transparency kept as an alpha channel."""
    keyed = "transparency" in band.info
    if band.mode == "P":
        return band.convert("RGBA" if keyed else "RGB")
    if keyed and band.mode in ("L", "RGB"):
        return band.convert("LA" if band.mode == "L" else "RGBA")
    return band


def band_decodable(data: bytes) -> bool:
    """Whether this PNG is one that band decoding takes (8-bit, not interlaced, a still);
    a broken one counts too: band decoding reports the damage."""
    try:
        return _header(data) is not None
    except DamagedPNG:
        return True


def reduce_factor(size: tuple[int, int], wanted: tuple[int, int]) -> int:
    """The largest whole factor that keeps both sides at least `wanted`."""
    return max(1, min(size[0] // max(1, wanted[0]), size[1] // max(1, wanted[1])))


def decode_png_reduced(
    data: bytes, wanted: tuple[int, int], *, band_bytes: int = BAND_BYTES
) -> Image.Image | None:
    """The PNG in `data` reduced by the largest whole factor that keeps it at least
    `wanted`, decoded band by band; None when band decoding does not apply (not an 8-bit
    non-interlaced still PNG, or no reduction of at least 2). DamagedPNG when broken."""
    header = _header(data)
    if header is None:
        return None
    factor = reduce_factor((header.width, header.height), wanted)
    if factor < 2:
        return None
    stride = header.row_bytes + 1
    band_rows = factor * max(1, band_bytes // (stride * factor))
    inflated = _Inflated(data)
    result: Image.Image | None = None
    previous = b""  # the last row decoded, unfiltered
    for top in range(0, header.height, band_rows):
        rows = min(band_rows, header.height - top)
        raw = inflated.read(rows * stride)
        if len(raw) < rows * stride:
            raise DamagedPNG("image data cut short")
        lead = b"\x00" + previous if previous else b""
        try:
            band = Image.open(io.BytesIO(_band_png(header, lead + raw, rows + bool(lead))))
            band.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise DamagedPNG("band") from exc
        if lead:
            band = band.crop((0, 1, band.width, band.height))
        previous = band.crop((0, rows - 1, band.width, rows)).tobytes()
        small = _reducible(band).reduce(factor)
        if result is None:
            width = -(-header.width // factor)
            result = Image.new(small.mode, (width, -(-header.height // factor)))
        result.paste(small, (0, top // factor))
    return result
