"""The portrait: check it against Kling's rules, fix what can be fixed, explain the rest.

Kling takes JPG/JPEG/PNG, at most 10 MB, each side at least 300 px, aspect ratio between
1:2.5 and 2.5:1. What this module does about each:

- format: detected from the content (never the name); anything Pillow reads among common
  picture formats is accepted and converted to JPEG.
- metadata: always removed (EXIF with its GPS location, XMP, IPTC, comments, thumbnails).
  A JPEG or 8-bit RGB PNG that needs no other change keeps its picture data byte for byte
  (only metadata segments are cut out), so it loses no quality and costs no time.
- orientation: the EXIF orientation tag is applied, so the face is upright.
- transparency: flattened onto white and sent as JPEG (a video has no transparency, and
  what Kling does with an alpha channel is not documented).
- sides under 300 px: refused (upscaling would only make a blurry face).
- aspect ratio out of range: padded (never cropped) to the nearest allowed ratio with a
  blurred, enlarged copy of the picture itself.
- longest side above 4096 px: downscaled (JPEGs are decoded at a reduced scale when that
  is enough, which keeps large photos fast; large PNGs are decoded band by band, each
  band reduced at once, so the full-size picture is never held).
- memory: pictures over 16 megapixels are decoded one at a time per process
  (`decode_gate`), so many people sending one each cost what one costs.
- size: re-encoded output is JPEG quality 90; lower quality, then smaller sizes, are tried
  until it fits 10 MB.
- safety: pictures above 100 megapixels are refused from their header, before decoding;
  so are pictures above 40 megapixels in a format that can only be decoded in full
  (anything but JPEG and 8-bit PNG: Pillow holds a WebP of 81 MP in 1.3 GB).
"""

from __future__ import annotations

import base64
import functools
import io
import re
import struct
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from avatar_core.catalogue import sentence_for
from avatar_core.errors import InputError
from avatar_core.inputs.cache import PreparedCache, content_key
from avatar_core.inputs.decode_gate import LARGE_PIXELS, one_large_decode
from avatar_core.inputs.image_metadata import describe_dropped, png_exif, strip_jpeg, strip_png
from avatar_core.inputs.png_bands import DamagedPNG, band_decodable, decode_png_reduced
from avatar_core.inputs.sniff import sniff
from avatar_core.inputs.sources import Source, read_source
from avatar_core.units import MB, format_bytes, format_size

MAX_SOURCE_BYTES = 50 * MB  # what is read from a file or URL at all
MAX_OUTPUT_BYTES = 10 * MB  # Kling's limit (decimal megabytes: the stricter reading)
MIN_SIDE = 300
MAX_RATIO = 2.5
MAX_SIDE = 4096
MAX_PIXELS = 100_000_000
MAX_FULL_DECODE_PIXELS = 40_000_000  # formats decoded only in full (WebP: 15 bytes a pixel)
SMALL_SIDE = 512  # below this a warning says the video will look soft
JPEG_QUALITY = 90
_QUALITY_STEPS = (90, 80, 70, 60)
_SHRINK_QUALITY = 75
_SHRINK_FACTOR = 0.75

# Formats opened at all; others (EPS runs Ghostscript, for one) are refused.
_WANTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "AVIF", "ICO", "PPM")
_FORMAT_NAMES = {"MPO": "jpeg", "DIB": "bmp"}
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
# What Pillow raises for damaged files: TIFF says "Missing dimensions" with a TypeError,
# packed headers fail with struct.error.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error
)  # fmt: skip


@dataclass(frozen=True)
class PreparedImage:
    """The portrait as it will be sent, and what was measured and changed."""

    data: bytes = field(repr=False)  # the exact bytes to send
    format: str  # "jpeg" or "png"
    width: int
    height: int
    source_format: str  # "jpeg", "png", "webp", "gif", ...
    source_width: int
    source_height: int
    source_bytes: int
    changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def base64(self) -> str:
        """Raw base64, as Kling wants it: no `data:` prefix."""
        return base64.b64encode(self.data).decode("ascii")

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else "png"

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    def summary(self) -> str:
        """One line of what was measured, and what will be sent."""
        before = (
            f"{self.source_format.upper()} {format_size(self.source_width, self.source_height)}, "
            f"{format_bytes(self.source_bytes)}"
        )
        after = (
            f"{self.format.upper()} {format_size(self.width, self.height)}, "
            f"{format_bytes(self.size_bytes)}"
        )
        if not self.changes:
            return sentence_for("image.summary_kept", before=before)
        return sentence_for("image.summary_changed", before=before, after=after)


def prepare_image(
    source: Source,
    *,
    allow_private_urls: bool = False,
    cache: PreparedCache[PreparedImage] | None = None,
) -> PreparedImage:
    """Read, check and fix a portrait (bytes, a local path or an http(s) URL).

    Raises InputError with one sentence when it cannot be used. With a `cache`, the same
    bytes are prepared once.
    """
    read = read_source(
        source, what="image", max_bytes=MAX_SOURCE_BYTES, allow_private_urls=allow_private_urls
    )
    if cache is None:
        return _prepare(read.data, read.label)
    key = content_key(read.data, read.label)
    return cache.get_or_make(key, lambda: _prepare(read.data, read.label))


# --- measuring ----------------------------------------------------------------------------


@functools.cache
def _open_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(name for name in _WANTED_FORMATS if name in Image.OPEN)


def _open(data: bytes, label: str) -> Image.Image:
    where = f" {label}" if label else ""
    try:
        # Pillow warns between ~89 and ~179 MP (the size is checked against MAX_PIXELS
        # right after opening, from the header, before anything is decoded) and about
        # damaged EXIF; neither belongs on a person's screen, and damage is reported below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data), formats=_open_formats())
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        claimed = (
            sentence_for("image.claims", megapixels=int(found.group(1)) / 1e6) if found else ""
        )
        raise InputError(
            sentence_for(
                "image.too_large_to_open",
                where=where,
                claimed=claimed,
                maximum=MAX_PIXELS // 1_000_000,
            ),
            field="image",
        ) from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        kind = sniff(data)
        if kind is not None and kind.family == "image":
            reason = sentence_for("image.unreadable_kind", kind=kind.described)
        elif kind is not None:
            reason = sentence_for("image.not_picture_kind", kind=kind.described)
        else:
            reason = sentence_for("image.not_picture")
        raise InputError(
            sentence_for("image.unreadable", where=where, reason=reason), field="image"
        ) from exc


def _exif(img: Image.Image, data: bytes, fmt: str) -> Image.Exif:
    """The picture's EXIF, read without decoding its pixels (to look for EXIF after a
    PNG's pixel data, Pillow would decode all of it); empty when damaged."""
    try:
        with warnings.catch_warnings():  # damaged EXIF: Pillow warns on stderr, mid-CLI output
            warnings.simplefilter("ignore")
            if fmt != "png":
                return img.getexif()
            exif = Image.Exif()
            body = png_exif(data)
            if body:
                exif.load(body)
            return exif
    except _DECODE_ERRORS:
        return Image.Exif()


def _orientation(exif: Image.Exif) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = int(exif.get(_ORIENTATION, 1))
    except _DECODE_ERRORS:
        return 1
    return value if 1 <= value <= 8 else 1


def _has_gps(exif: Image.Exif) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(exif.get_ifd(_GPS_IFD))
    except _DECODE_ERRORS:
        return False


def _strip(data: bytes, fmt: str) -> tuple[bytes, list[str]] | None:
    if fmt == "jpeg":
        return strip_jpeg(data)
    if fmt == "png":
        return strip_png(data)
    return None


def _metadata_labels(img: Image.Image, stripped: tuple[bytes, list[str]] | None) -> list[str]:
    """What metadata the source carries (all of it is removed on the way out)."""
    if stripped is not None:
        return stripped[1]
    info = img.info
    labels = []
    if info.get("exif"):
        labels.append("EXIF")
    if info.get("xmp") or info.get("XML:com.adobe.xmp"):
        labels.append("XMP")
    if info.get("photoshop"):
        labels.append("IPTC")
    if info.get("comment"):
        labels.append("comment")
    return labels


def _fit_longest(width: int, height: int) -> tuple[int, int]:
    """The size after downscaling so that the longest side is at most MAX_SIDE."""
    longest = max(width, height)
    if longest <= MAX_SIDE:
        return width, height
    scale = MAX_SIDE / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def ratio_ok(width: int, height: int) -> bool:
    """Kling's aspect-ratio rule, in exact integer arithmetic (2.5:1 itself is allowed)."""
    return 2 * width <= 5 * height and 2 * height <= 5 * width


def padded_size(width: int, height: int) -> tuple[int, int]:
    """The smallest canvas holding width×height whose ratio is within 1:2.5..2.5:1."""
    if 2 * width > 5 * height:
        return width, -(-2 * width // 5)
    if 2 * height > 5 * width:
        return -(-2 * height // 5), height
    return width, height


def format_ratio(width: int, height: int) -> str:
    """`2.50:1` for wide pictures, `1:2.50` for tall ones."""
    if width >= height:
        return f"{width / height:.2f}:1"
    return f"1:{height / width:.2f}"


def _looks_blank(img: Image.Image) -> bool:
    small = img.resize((32, 32), Image.Resampling.BOX, reducing_gap=2.0).convert("L")
    return ImageStat.Stat(small).stddev[0] < 2.0


# --- the two paths ------------------------------------------------------------------------


def _check_size(width: int, height: int, fmt: str, data: bytes, where: str) -> None:
    """Refuse, from the header, what is too large to open or too small for Kling."""
    size = format_size(width, height)
    megapixels = width * height / 1e6
    if width * height > MAX_PIXELS:
        raise InputError(
            sentence_for(
                "image.too_many_pixels",
                where=where,
                size=size,
                megapixels=megapixels,
                maximum=MAX_PIXELS // 1_000_000,
            ),
            field="image",
        )
    reduced = fmt == "jpeg" or (fmt == "png" and band_decodable(data))
    if width * height > MAX_FULL_DECODE_PIXELS and not reduced:
        raise InputError(
            sentence_for(
                "image.full_decode_too_large",
                where=where,
                format=fmt.upper(),
                size=size,
                megapixels=megapixels,
                full=MAX_FULL_DECODE_PIXELS // 1_000_000,
                maximum=MAX_PIXELS // 1_000_000,
            ),
            field="image",
        )
    if min(width, height) < MIN_SIDE:
        raise InputError(
            sentence_for("image.too_small", where=where, size=size, minimum=MIN_SIDE), field="image"
        )


def _prepare(data: bytes, label: str) -> PreparedImage:
    img = _open(data, label)  # the header only: the size is known before any decoding
    with one_large_decode(img.width * img.height):
        return _prepare_opened(img, data, label)


def _prepare_opened(img: Image.Image, data: bytes, label: str) -> PreparedImage:
    where = f" {label}" if label else ""
    fmt = _FORMAT_NAMES.get(img.format or "", (img.format or "unknown").lower())
    width, height = img.size
    _check_size(width, height, fmt, data, where)
    exif = _exif(img, data, fmt)
    orientation = _orientation(exif)
    upright = (height, width) if orientation >= 5 else (width, height)
    target = _fit_longest(*upright)
    canvas = padded_size(*target)
    warnings_: list[str] = []
    if min(upright) < SMALL_SIDE:
        warnings_.append(
            sentence_for("image.small", size=format_size(*upright), recommended=SMALL_SIDE)
        )
    measured = dict(
        source_format=fmt, source_width=width, source_height=height, source_bytes=len(data)
    )
    stripped = _strip(data, fmt)
    privacy = describe_dropped(_metadata_labels(img, stripped), gps=_has_gps(exif))
    unchanged_geometry = orientation == 1 and target == upright and canvas == target
    if unchanged_geometry:
        kept = _keep_as_is(img, data, stripped, fmt, where)
        if kept is not None:
            out, small = kept
            if _looks_blank(small):
                warnings_.append(_BLANK_WARNING)
            return PreparedImage(
                data=out,
                format=fmt,
                width=width,
                height=height,
                changes=(privacy,) if privacy else (),
                warnings=tuple(warnings_),
                **measured,
            )
    out_img, changes = _fix(img, data, fmt, orientation, (upright, target, canvas), where)
    if _looks_blank(out_img):
        warnings_.append(_BLANK_WARNING)
    icc = _rgb_icc(img)
    out, out_img, quality = _encode_jpeg(out_img, icc)
    clean_size = len(stripped[0]) if stripped else len(data)
    if quality < JPEG_QUALITY or clean_size > MAX_OUTPUT_BYTES:
        changes.append(
            sentence_for(
                "image.quality",
                quality=quality,
                maximum=format_bytes(MAX_OUTPUT_BYTES),
                size=format_bytes(len(data)),
            )
        )
    if out_img.size != canvas:
        changes.append(
            sentence_for(
                "image.downscaled_for_size",
                size=format_size(*out_img.size),
                maximum=format_bytes(MAX_OUTPUT_BYTES),
            )
        )
    if fmt != "jpeg":
        reason = "" if fmt == "png" else sentence_for("image.only_jpeg_png")
        changes.insert(0, sentence_for("image.converted", format=fmt.upper(), reason=reason))
    if privacy:
        changes.append(privacy)
    return PreparedImage(
        data=out,
        format="jpeg",
        width=out_img.width,
        height=out_img.height,
        changes=tuple(changes),
        warnings=tuple(warnings_),
        **measured,
    )


_BLANK_WARNING = sentence_for("image.blank")


def _keep_as_is(
    img: Image.Image,
    data: bytes,
    stripped: tuple[bytes, list[str]] | None,
    fmt: str,
    where: str,
) -> tuple[bytes, Image.Image] | None:
    """A compliant JPEG or 8-bit RGB PNG minus its metadata, checked to decode; else None."""
    if stripped is None or len(stripped[0]) > MAX_OUTPUT_BYTES:
        return None
    if fmt == "jpeg" and img.mode != "RGB":
        return None
    if fmt == "png":
        ihdr = data[16:29]
        rgb8 = len(ihdr) == 13 and ihdr[8] == 8 and ihdr[9] == 2
        if not rgb8 or "transparency" in img.info or getattr(img, "n_frames", 1) != 1:
            return None
    out = stripped[0]
    try:
        check = Image.open(io.BytesIO(out), formats=("JPEG", "PNG"))
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        return None
    if fmt == "jpeg":  # decoding at 1/8 scale still reads every byte of the scan data
        check.draft("RGB", (max(1, check.width // 8), max(1, check.height // 8)))
    _load(check, fmt, where)
    return out, check


def _damaged(fmt: str, where: str) -> InputError:
    return InputError(sentence_for("image.damaged", where=where, format=fmt.upper()), field="image")


def _load(img: Image.Image, fmt: str, where: str) -> None:
    try:
        img.load()
    except _DECODE_ERRORS as exc:
        raise _damaged(fmt, where) from exc


def _frame_count(img: Image.Image, fmt: str, where: str) -> int:
    """How many frames the picture has; counting reads every frame's header, so a damaged
    later frame (a TIFF page without a size, say) is reported like any other damage."""
    try:
        return int(getattr(img, "n_frames", 1))
    except _DECODE_ERRORS as exc:
        raise _damaged(fmt, where) from exc


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # the EXIF orientation tag's values, as turns (a reduced PNG has no EXIF of its own)


def _decode(
    img: Image.Image, data: bytes, fmt: str, stored: tuple[int, int], where: str
) -> Image.Image:
    """The pixels, at a reduced scale when the format allows and `stored` (the wanted size,
    before turning upright) is small enough: JPEG in draft mode, PNG band by band."""
    if fmt == "jpeg" and stored != img.size:
        img.draft(None, stored)  # libjpeg decodes at 1/2, 1/4 or 1/8 scale when enough
    elif fmt == "png" and stored != img.size and img.width * img.height > LARGE_PIXELS:
        try:
            reduced = decode_png_reduced(data, stored)
        except DamagedPNG as exc:
            raise _damaged(fmt, where) from exc
        if reduced is not None:
            return reduced
    _load(img, fmt, where)
    return img


def _fix(
    img: Image.Image,
    data: bytes,
    fmt: str,
    orientation: int,
    sizes: tuple[tuple[int, int], tuple[int, int], tuple[int, int]],
    where: str,
) -> tuple[Image.Image, list[str]]:
    """Decode and apply orientation, colour, size and ratio fixes; JPEG encoding comes after.

    `sizes` are the upright size, the target (longest side at most MAX_SIDE) and the
    canvas (the target padded to an allowed ratio)."""
    upright, target, canvas = sizes
    changes: list[str] = []
    stored = (target[1], target[0]) if orientation >= 5 else target
    decoded = _decode(img, data, fmt, stored, where)
    if _frame_count(img, fmt, where) > 1:
        changes.append(sentence_for("image.first_frame", format=fmt.upper()))
    img = decoded
    if orientation != 1:
        img = img.transpose(_TRANSPOSE[orientation])
        changes.append(sentence_for("image.upright"))
    img = _to_rgb(img, changes, where)
    if img.size != target:
        img = img.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
        changes.append(
            sentence_for(
                "image.downscaled",
                before=format_size(*upright),
                after=format_size(*target),
                maximum=MAX_SIDE,
            )
        )
    if canvas != target:
        img = _pad(img, canvas)
        changes.append(
            sentence_for(
                "image.padded",
                before=format_size(*target),
                before_ratio=format_ratio(*target),
                after=format_size(*canvas),
                after_ratio=format_ratio(*canvas),
                ratio=MAX_RATIO,
            )
        )
    return img, changes


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float greyscale to 8-bit, scaled rather than clipped."""
    if img.mode.startswith("I;16"):
        img = img.convert("I")
        scale = 255 / 65535
    else:
        high = img.getextrema()[1]
        scale = 1.0 if high <= 255 else (255 / 65535 if high <= 65535 else 255 / high)
        if img.mode == "F" and high <= 1.0:
            scale = 255.0
    return img.point(lambda value: value * scale).convert("L")


def _to_rgb(img: Image.Image, changes: list[str], where: str) -> Image.Image:
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        img = _to_8bit(img)
    elif mode == "CMYK":
        img = _cmyk_to_rgb(img)
        changes.append(sentence_for("image.cmyk"))
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode in ("P", "L", "RGB", "1") and "transparency" in img.info
    )
    try:
        if has_alpha:
            rgba = img.convert("RGBA")
            alpha = rgba.getchannel("A")
            if alpha.getextrema()[0] < 255:
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=alpha)
                changes.append(sentence_for("image.transparent"))
                return flat
            return rgba.convert("RGB")
        return img if img.mode == "RGB" else img.convert("RGB")
    except ValueError as exc:
        raise InputError(
            sentence_for("image.colour_mode", where=where, mode=mode), field="image"
        ) from exc


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            result = ImageCms.profileToProfile(
                img, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if result is not None:
                return result
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return img.convert("RGB")


def _rgb_icc(img: Image.Image) -> bytes | None:
    """The source's ICC profile when it describes RGB (kept so colours stay right)."""
    icc = img.info.get("icc_profile")
    if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB ":
        return icc
    return None


def _pad(img: Image.Image, canvas: tuple[int, int]) -> Image.Image:
    """`img` centred on `canvas`, the rest filled with a blurred enlargement of itself."""
    small = (max(1, canvas[0] // 16), max(1, canvas[1] // 16))
    fill = ImageOps.fit(img, small, Image.Resampling.BILINEAR)
    fill = fill.filter(ImageFilter.GaussianBlur(2))
    fill = fill.resize(canvas, Image.Resampling.BILINEAR)
    fill.paste(img, ((canvas[0] - img.width) // 2, (canvas[1] - img.height) // 2))
    return fill


def _encode_jpeg(img: Image.Image, icc: bytes | None) -> tuple[bytes, Image.Image, int]:
    """JPEG bytes under MAX_OUTPUT_BYTES: quality 90 first, then lower, then smaller."""

    def encode(picture: Image.Image, quality: int) -> bytes:
        buffer = io.BytesIO()
        extra = {"icc_profile": icc} if icc else {}
        picture.save(buffer, "JPEG", quality=quality, **extra)
        return buffer.getvalue()

    for quality in _QUALITY_STEPS:
        out = encode(img, quality)
        if len(out) <= MAX_OUTPUT_BYTES:
            return out, img, quality
    while True:
        size = (round(img.width * _SHRINK_FACTOR), round(img.height * _SHRINK_FACTOR))
        if min(size) < MIN_SIDE:
            raise InputError(
                sentence_for("image.cannot_shrink", maximum=format_bytes(MAX_OUTPUT_BYTES)),
                field="image",
            )
        if not ratio_ok(*size):  # rounding may tip a ratio of exactly 2.5 over
            size = padded_size(*size)
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        out = encode(img, _SHRINK_QUALITY)
        if len(out) <= MAX_OUTPUT_BYTES:
            return out, img, _SHRINK_QUALITY
