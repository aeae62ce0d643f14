"""The voice: check it against Kling's rules, fix what can be fixed, explain the rest.

Kling (through CometAPI) takes MP3/WAV/M4A/AAC, at most 5 MB, 2 to 60 s. What this module
does about each:

- format: detected from the content (never the name) and handed to ffmpeg as an explicit
  demuxer, so a file cannot make ffmpeg open playlists or other files. Anything ffmpeg
  decodes among common sound formats is accepted (a browser's WebM/Opus recording too).
- measuring: the sound is decoded to 16-bit WAV through ffmpeg and read as it comes:
  every sample is counted (the duration is counted, not read from headers, which lie for
  VBR MP3s and browser recordings) but only the first 60 s, what can be sent, are held and
  measured with pydub (pydub's own probing needs ffprobe, which is not there). Ten minutes
  of sound in a small FLAC cost what one minute costs; a source over LARGE_SOUND_BYTES is
  read and decoded one at a time per process (inputs/decode_gate.py).
- a compliant MP3, 16-bit PCM WAV, AAC-in-M4A or ADTS AAC file up to 5 MB is sent byte for
  byte as it is; anything else is transcoded to MP3, mono, 44.1 kHz, 128 kb/s (60 s of that
  is under 1 MB).
- under 2 s: refused. Over 60 s: refused with the measured length, unless `trim` is set;
  then the first 60 s are kept, with a short fade-out so it does not end on a click.
- silent or nearly silent: a warning (the avatar would not move its lips), not a refusal.
- silence before the first word and after the last is left out before anything else is
  judged, and long pauses shortened on request (`silence.py`): it is paid for and shows as
  a still face. What is left out is said among the changes.
"""

from __future__ import annotations

import base64
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from avatar_core.catalogue import Message, sentence_for
from avatar_core.errors import InputError, MediaToolError
from avatar_core.inputs.cache import PreparedCache, content_key
from avatar_core.inputs.decode_gate import give_back_freed_memory, one_large_sound
from avatar_core.inputs.ffmpeg import StreamedRun, run_ffmpeg, stream_ffmpeg
from avatar_core.inputs.silence import SilencePlan, leave_out_silence, unchanged
from avatar_core.inputs.sniff import Kind, sniff
from avatar_core.inputs.sources import Source, read_source
from avatar_core.units import MB, format_bytes, format_seconds

with warnings.catch_warnings():  # pydub warns at import: no ffmpeg on PATH, audioop's future
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

MAX_SOURCE_BYTES = 100 * MB  # what is read from a file or URL at all
MAX_OUTPUT_BYTES = 5 * MB  # Kling's limit (decimal megabytes: the stricter reading)
MIN_SECONDS = 2.0
MAX_SECONDS = 60.0
MAX_ANALYSED_SECONDS = 600.0  # longer sources are measured from their header beyond this
KEPT_SECONDS = 2 * MAX_SECONDS  # held: what can be sent, and room for silence left out
_READ_BYTES = 1024 * 1024  # the decoded sound is read in pieces of this size
NEARLY_SILENT_PEAK_DBFS = -45.0
QUIET_RMS_DBFS = -55.0
OUTPUT_RATE = 44_100
OUTPUT_BITRATES = ("128k", "96k", "64k")
TRIM_FADE_MS = 30

_KEEP_CODECS = {"MP3": "mp3", "WAV": "pcm_s16le", "M4A": "aac", "MP4": "aac", "AAC": "aac"}
_KEEP_FORMATS = {"MP3": "mp3", "WAV": "wav", "M4A": "m4a", "MP4": "m4a", "AAC": "aac"}
_STREAM = re.compile(r"Stream #0:\d+[^:]*: (Audio|Video): ([A-Za-z0-9_]+)(.*)")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_TRUNCATED_HINTS = ("partial file", "moov atom not found")
# The analysis decode is bounded to stereo at 48 kHz whatever the source claims, so a few
# kilobytes of 8-channel 192 kHz silence cannot decode into gigabytes of samples in memory.
_DECODE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_BOUNDED_PCM = "aformat=sample_fmts=s16:channel_layouts=mono|stereo:sample_rates=" + "|".join(
    map(str, _DECODE_RATES)
)
_RATE_AND_LAYOUT = re.compile(r"\b(\d+) Hz, ([^,]+)")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "1 channels": 1, "2 channels": 2}


@dataclass(frozen=True)
class PreparedAudio:
    """The voice as it will be sent, and what was measured and changed."""

    data: bytes = field(repr=False)  # the exact bytes to send
    format: str  # "mp3", "wav", "m4a" or "aac"
    duration_s: float  # of what is sent
    source_format: str  # "mp3", "wav", "m4a", "webm", "ogg", ...
    source_bytes: int
    sample_rate: int  # of what is sent
    channels: int  # of what is sent
    changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    source_duration_s: float | None = None  # None when only "longer than" is known
    silence_left_out_s: float = 0.0  # not sent: silence at the edges, and long pauses

    @property
    def base64(self) -> str:
        """Raw base64, as Kling wants it: no `data:` prefix."""
        return base64.b64encode(self.data).decode("ascii")

    @property
    def extension(self) -> str:
        return self.format

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    def summary(self) -> str:
        """One line of what was measured, and what will be sent."""
        channels = {1: sentence_for("audio.mono"), 2: sentence_for("audio.stereo")}.get(
            self.channels, sentence_for("audio.channels", count=self.channels)
        )
        after = sentence_for(
            "audio.measured",
            format=self.format.upper(),
            length=format_seconds(self.duration_s),
            khz=f"{self.sample_rate / 1000:g}",
            channels=channels,
            size=format_bytes(self.size_bytes),
        )
        if not self.changes:
            return sentence_for("audio.summary_kept", after=after)
        before = f"{self.source_format.upper()}, {format_bytes(self.source_bytes)}"
        if self.source_duration_s is not None:
            before = f"{self.source_format.upper()} {format_seconds(self.source_duration_s)}, "
            before += format_bytes(self.source_bytes)
        return sentence_for("audio.summary_changed", before=before, after=after)


@dataclass(frozen=True)
class _Decoded:
    segment: AudioSegment  # the first KEPT_SECONDS
    seconds: float  # of all that was decoded
    codec: str
    has_video: bool
    header_seconds: float | None
    hit_cap: bool
    source_format: tuple[int, int] | None = None  # (Hz, channels) when plain mono or stereo


def prepare_audio(
    source: Source,
    *,
    trim: bool = False,
    shorten_pauses: bool = False,
    keep_silence: bool = False,
    allow_private_urls: bool = False,
    cache: PreparedCache[PreparedAudio] | None = None,
) -> PreparedAudio:
    """Read, check and fix a voice recording (bytes, a local path or an http(s) URL).

    Raises InputError with one sentence when it cannot be used. With a `cache`, the same
    bytes (and options) are prepared once. `shorten_pauses`: long pauses inside the speech
    are shortened too (silence at its edges is always left out).
    """
    known = _known_size(source)  # a large local file waits its turn before it is read
    silence = "keep" if keep_silence else "pauses" if shorten_pauses else "edges"
    options = {"trim": trim, "silence": silence, "gated": known is not None}
    with one_large_sound(known or 0):
        read = read_source(
            source, what="audio", max_bytes=MAX_SOURCE_BYTES, allow_private_urls=allow_private_urls
        )
        if cache is None:
            return _prepare(read.data, read.label, **options)
        key = content_key(read.data, read.label, trim, silence)
        return cache.get_or_make(key, lambda: _prepare(read.data, read.label, **options))


def _known_size(source: Source) -> int | None:
    """The size of a source before it is read (bytes, a local file), else None (a URL)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if isinstance(source, Path):
        try:
            return source.stat().st_size
        except OSError:
            return None  # read_source says why, in its sentence
    return None


def _prepare(data: bytes, label: str, *, trim: bool, silence: str, gated: bool) -> PreparedAudio:
    if not gated:  # read from a URL: its size is known only now
        with one_large_sound(len(data)):
            return _prepare(data, label, trim=trim, silence=silence, gated=True)
    where = f" {label}" if label else ""
    kind = sniff(data)
    if kind is None or kind.demuxer is None:
        reason = (
            sentence_for("audio.looks_like", kind=kind.described)
            if kind
            else sentence_for("audio.unknown_format")
        )
        raise InputError(sentence_for("audio.not_sound", where=where, reason=reason), field="audio")
    try:
        with tempfile.TemporaryDirectory(prefix="avatar-audio-") as folder:
            decoded = _decode(data, kind, Path(folder), where)
            decoded, plan = _without_silence(decoded, silence)
            return _check_and_fix(
                data, kind, decoded, where, trim=trim, folder=Path(folder), silence=plan
            )
    finally:  # the decode's pieces were freed in this thread's pool: hand them back
        give_back_freed_memory()


# --- decoding and measuring ---------------------------------------------------------------


def _decode(data: bytes, kind: Kind, folder: Path, where: str) -> _Decoded:
    """The first audio stream as 16-bit PCM (its first KEPT_SECONDS held, the rest only
    counted), plus what ffmpeg says about the file."""
    source = folder / "input"
    source.write_bytes(data)  # a file, not a pipe: M4A needs to seek to its index
    with stream_ffmpeg(
        [
            "-v", "info", "-nostats",
            "-f", kind.demuxer or "", "-i", f"file:{source}",
            "-map", "0:a:0", "-vn", "-sn", "-dn", "-af", _BOUNDED_PCM,
            "-t", f"{MAX_ANALYSED_SECONDS:g}",
            "-f", "wav", "-acodec", "pcm_s16le", "pipe:1",
        ],
        log=folder / "ffmpeg.log",
    ) as run:  # fmt: skip
        pcm = _read_pcm(run)
    log = run.log_text()
    streams = [m.groups() for m in map(_STREAM.search, log.splitlines()) if m]
    audio = [s for s in streams if s[0] == "Audio"]
    video = [s for s in streams if s[0] == "Video" and "attached pic" not in s[2]]
    named = (
        sentence_for("audio.named_file", name=kind.name) if kind.family != "media" else kind.name
    )
    if not audio and (video or (run.returncode != 0 and "matches no streams" in log)):
        what = (
            sentence_for("audio.video_without_sound")
            if video
            else sentence_for("audio.no_sound", named=named)
        )
        raise InputError(sentence_for("audio.silent_file", where=where, what=what), field="audio")
    truncated = any(hint in log.lower() for hint in _TRUNCATED_HINTS)
    if run.returncode != 0 or truncated or pcm is None:
        raise InputError(
            sentence_for("audio.damaged", where=where, kind=kind.described), field="audio"
        )
    found = _DURATION.search(log)
    header_seconds = None
    if found:
        hours, minutes, seconds = found.groups()
        header_seconds = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    seconds = pcm.frames / pcm.segment.frame_rate
    return _Decoded(
        segment=pcm.segment,
        seconds=seconds,
        codec=audio[0][1] if audio else "",
        has_video=bool(video),
        header_seconds=header_seconds,
        hit_cap=seconds >= MAX_ANALYSED_SECONDS - 0.01,
        source_format=_plain_format(audio[0][2]) if audio else None,
    )


@dataclass(frozen=True)
class _Pcm:
    segment: AudioSegment  # the first KEPT_SECONDS
    frames: int  # all that was decoded


def _read_pcm(run: StreamedRun) -> _Pcm | None:
    """ffmpeg's WAV as it comes: the first KEPT_SECONDS kept, every frame counted; None
    when it is not 16-bit PCM WAV (a damaged source gives no header)."""
    header = _wav_stream_header(run.output)
    if header is None:
        return None
    rate, channels = header
    frame_bytes = 2 * channels
    keep = int(KEPT_SECONDS * rate) * frame_bytes
    kept, total = bytearray(), 0
    while piece := run.output.read(_READ_BYTES):
        total += len(piece)
        if len(kept) < keep:
            kept += piece[: keep - len(kept)]
    del kept[len(kept) - len(kept) % frame_bytes :]
    try:
        segment = AudioSegment(data=bytes(kept), sample_width=2, frame_rate=rate, channels=channels)
    except Exception as exc:  # pydub raises bare exceptions of several kinds
        raise MediaToolError(sentence_for("ffmpeg.wav_unreadable")) from exc
    return _Pcm(segment, total // frame_bytes)


def _wav_stream_header(stream: IO[bytes]) -> tuple[int, int] | None:
    """(Hz, channels) from the header of a 16-bit PCM WAV being read, up to its samples
    (a piped WAV's sizes are placeholders: only the chunks before "data" are read)."""
    read = stream.read
    start = read(12)
    if len(start) < 12 or start[:4] != b"RIFF" or start[8:12] != b"WAVE":
        return None
    shape = None
    while len(chunk := read(8)) == 8:
        name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"data":
            return shape
        if size > 1024 * 1024:
            return None
        body = read(size + (size & 1))
        if name == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if bits == 16 and tag in (1, 0xFFFE) and channels in (1, 2) and rate > 0:
                shape = rate, channels
    return None


def _without_silence(decoded: _Decoded, silence: str) -> tuple[_Decoded, SilencePlan]:
    """The decoded voice without the silence `silence.py` leaves out: at its edges
    ("edges"), and long pauses too ("pauses"); nothing ("keep": a long speech's part, whose
    edges are where the speech was cut). A voice longer than is held is left as it is: it
    is refused or cut to its first seconds anyway."""
    segment = decoded.segment
    held = segment.frame_count() / segment.frame_rate
    if silence == "keep" or decoded.hit_cap or decoded.seconds > held + 0.01:
        return decoded, unchanged(decoded.seconds)
    pcm, plan = leave_out_silence(
        segment.raw_data,
        channels=segment.channels,
        rate=segment.frame_rate,
        shorten_pauses=silence == "pauses",
        min_seconds=MIN_SECONDS,
    )
    if not plan.changed:
        return decoded, plan
    kept = segment._spawn(pcm)
    return replace(decoded, segment=kept, seconds=kept.frame_count() / kept.frame_rate), plan


def _plain_format(stream_text: str) -> tuple[int, int] | None:
    """(Hz, channels) from ffmpeg's description of a mono or stereo stream, else None."""
    found = _RATE_AND_LAYOUT.search(stream_text)
    if found is None or found.group(2).strip() not in _LAYOUT_CHANNELS:
        return None
    return int(found.group(1)), _LAYOUT_CHANNELS[found.group(2).strip()]


def _wav_is_sound(data: bytes) -> bool:
    """A plain WAV whose sizes are right: streaming recorders leave them 0 or 0xFFFFFFFF."""
    if data[:4] != b"RIFF" or len(data) < 12:
        return False
    riff_size = struct.unpack("<I", data[4:8])[0]
    if riff_size + 8 != len(data) and riff_size + 9 != len(data):  # a pad byte is allowed
        return False
    i = 12
    while i + 8 <= len(data):
        chunk, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if chunk == b"data":
            return i + 8 + size <= len(data)
        i += 8 + size + (size & 1)
    return False


def _wav_claims_more(data: bytes) -> bool:
    """True when a WAV's data chunk promises more bytes than the file holds (cut short)."""
    i = 12
    while i + 8 <= len(data):
        chunk, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if chunk == b"data":
            return size not in (0, 0xFFFFFFFF) and i + 8 + size > len(data) + 1
        i += 8 + size + (size & 1)
    return False


# --- the rules ----------------------------------------------------------------------------


def _sent_as_it_came(data: bytes, kind: Kind, decoded: _Decoded, segment: AudioSegment) -> bool:
    """Whether the file as it came would be sent as it is (no trim, no silence left out)."""
    return (
        _KEEP_FORMATS.get(kind.name) is not None
        and _KEEP_CODECS[kind.name] == decoded.codec
        and not decoded.has_video
        and len(data) <= MAX_OUTPUT_BYTES
        and (kind.name != "WAV" or _wav_is_sound(data))
        and decoded.source_format == (segment.frame_rate, segment.channels)
    )


def _check_and_fix(
    data: bytes,
    kind: Kind,
    decoded: _Decoded,
    where: str,
    *,
    trim: bool,
    folder: Path,
    silence: SilencePlan,
) -> PreparedAudio:
    segment = decoded.segment
    seconds = decoded.seconds
    source_seconds: float | None = silence.source_s if silence.changed else seconds
    if decoded.hit_cap:
        header = decoded.header_seconds
        source_seconds = header if header and header >= seconds else None
    if source_seconds is not None:
        measured = seconds if silence.changed else source_seconds  # what the rules judge
        shown = format_seconds(measured, MIN_SECONDS, MAX_SECONDS)
        length = sentence_for("audio.length", shown=shown)
    else:
        shown = sentence_for("audio.more_than", seconds=MAX_ANALYSED_SECONDS)
        length = sentence_for("audio.longer_than", seconds=MAX_ANALYSED_SECONDS)
    if kind.name == "WAV" and _wav_claims_more(data):
        raise InputError(sentence_for("audio.wav_cut_short", where=where), field="audio")
    if seconds < MIN_SECONDS:
        raise InputError(
            sentence_for("audio.too_short", length=length, minimum=MIN_SECONDS),
            field="audio",
        )
    changes: list[str] = []
    too_long = decoded.hit_cap or seconds > MAX_SECONDS
    if too_long and not trim:
        raise InputError(
            sentence_for("audio.too_long", length=length, maximum=MAX_SECONDS), field="audio"
        )
    if too_long:
        segment = segment[: int(MAX_SECONDS * 1000)].fade_out(TRIM_FADE_MS)
    warnings_ = _loudness_warnings(segment)
    source_format = _source_format(kind, decoded)
    keep_format = _KEEP_FORMATS.get(kind.name)
    compliant = _sent_as_it_came(data, kind, decoded, segment)
    if compliant and not too_long and not silence.changed:
        return PreparedAudio(
            data=data,
            format=keep_format or "",
            duration_s=seconds,
            source_format=source_format,
            source_bytes=len(data),
            sample_rate=segment.frame_rate,
            channels=segment.channels,
            warnings=tuple(warnings_),
            source_duration_s=source_seconds,
        )
    out, bitrate = _encode_mp3(segment, folder)
    target = sentence_for("audio.mp3_target", khz=f"{OUTPUT_RATE / 1000:g}", kbps=bitrate[:-1])
    changes += silence.sentences()
    if too_long:
        changes.append(
            sentence_for("audio.trimmed", shown=shown, maximum=MAX_SECONDS, target=target)
        )
    elif silence.changed and compliant:
        changes.append(sentence_for("audio.saved_trimmed", target=target))
    else:
        changes.append(_conversion_sentence(kind, decoded, source_format, len(data), target))
    return PreparedAudio(
        data=out,
        format="mp3",
        duration_s=segment.frame_count() / segment.frame_rate,
        source_format=source_format,
        source_bytes=len(data),
        sample_rate=OUTPUT_RATE,
        channels=1,
        changes=tuple(changes),
        warnings=tuple(warnings_),
        source_duration_s=source_seconds,
        silence_left_out_s=silence.removed_s,
    )


def _source_format(kind: Kind, decoded: _Decoded) -> str:
    if kind.name in ("M4A", "MP4") and not decoded.has_video:
        return "m4a"
    return kind.name.lower()


def _conversion_sentence(
    kind: Kind, decoded: _Decoded, source_format: str, size: int, target: Message
) -> Message:
    if decoded.has_video:
        return sentence_for("audio.from_video", kind=kind.name, target=target)
    if kind.name in _KEEP_FORMATS and size > MAX_OUTPUT_BYTES:
        return sentence_for(
            "audio.converted_size",
            target=target,
            format=source_format.upper(),
            size=format_bytes(size),
            maximum=format_bytes(MAX_OUTPUT_BYTES),
        )
    if kind.name in _KEEP_FORMATS and decoded.source_format is None:
        return sentence_for("audio.converted_channels", target=target)
    if kind.name in _KEEP_FORMATS and decoded.source_format[0] not in _DECODE_RATES:
        rate = decoded.source_format[0]
        return sentence_for("audio.converted_rate", target=target, khz=f"{rate / 1000:g}")
    if kind.name in _KEEP_FORMATS:
        codec = decoded.codec or sentence_for("audio.its_encoding")
        return sentence_for(
            "audio.converted_codec", target=target, format=source_format.upper(), codec=codec
        )
    return sentence_for("audio.converted_from", kind=kind.name, codec=decoded.codec, target=target)


def _loudness_warnings(segment: AudioSegment) -> list[str]:
    peak = segment.max_dBFS
    if peak == float("-inf"):
        return [sentence_for("audio.silent")]
    if peak < NEARLY_SILENT_PEAK_DBFS:
        return [sentence_for("audio.nearly_silent", peak=peak)]
    rms = segment.dBFS
    if rms < QUIET_RMS_DBFS:
        return [sentence_for("audio.quiet", rms=rms)]
    return []


def _encode_mp3(segment: AudioSegment, folder: Path) -> tuple[bytes, str]:
    """MP3, mono, 44.1 kHz, written to a file so its header carries the exact length."""
    if segment.sample_width != 2:
        segment = segment.set_sample_width(2)
    target = folder / "output.mp3"
    for bitrate in OUTPUT_BITRATES:
        done = run_ffmpeg(
            [
                "-f", "s16le", "-ar", str(segment.frame_rate), "-ac", str(segment.channels),
                "-i", "pipe:0",
                "-ac", "1", "-ar", str(OUTPUT_RATE),
                "-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", "5",
                "-map_metadata", "-1", "-y", "-f", "mp3", f"file:{target}",
            ],
            input_bytes=segment.raw_data,
        )  # fmt: skip
        if done.returncode != 0 or not target.is_file():
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise MediaToolError(sentence_for("ffmpeg.mp3_failed", reason=" ".join(reason)))
        out = target.read_bytes()
        if len(out) <= MAX_OUTPUT_BYTES:
            return out, bitrate
    raise MediaToolError(sentence_for("audio.mp3_too_large"))
