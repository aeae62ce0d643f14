"""A batch row's text to speech, made once: kept with the row's identity, reused on a rerun.

Text to speech is paid, and it is made before the row's avatar job is journaled. Without
this, a rerun would pay for it again when the run stopped between the speech and the job,
when the speech was refused as too short or too long (the row fails every time), or when
the row failed before its create. So each speech made for a row is kept in the journal
(`row_speeches`: its audio id, task id and duration, or the refusal) with the row's key
and endpoint, and a rerun uses it instead of asking again while it is valid.

Kling keeps an `audio_id` usable for 30 days (kling-api.md); a kept speech is reused for
`REUSE_S` (28 days), two days less, so that a run started near the limit is not refused.
When the provider refuses a reused audio id anyway, the row forgets it (`forget`) and
the next run makes the speech again. The demo simulator starts fresh on each run and
knows no earlier audio id, and costs nothing: in demo mode nothing is kept.
"""

from __future__ import annotations

from avatar_core.errors import InputError
from avatar_core.jobs.batch_rows import BatchRow
from avatar_core.jobs.studio import Studio
from avatar_core.provider.models import SpeechResult
from avatar_core.provider.speech import check_speech_length
from avatar_core.storage.speech_records import RowSpeech

REUSE_S = 28 * 24 * 3600.0  # Kling keeps an audio id 30 days; two days to spare
_REFUSED_LENGTH = "speech.length"  # the key of check_speech_length's sentence


def _place(studio: Studio) -> str:
    return studio.client.base_url


def kept_speech(studio: Studio, row: BatchRow) -> SpeechResult | None:
    """The row's speech from an earlier run, if one is kept and still valid. Raises the
    same InputError as then when that speech was refused as too short or too long."""
    if studio.demo:
        return None
    since = studio.services.clock.wall() - REUSE_S
    kept = studio.journal.row_speech(row.key, _place(studio), studio.owner, since)
    if kept is None:
        return None
    speech = SpeechResult(
        audio_id=kept.audio_id or "", url=None, duration_s=kept.seconds, task_id=kept.task_id
    )
    check_speech_length(speech)  # a refused one is refused again, without paying
    return speech if kept.audio_id else None


def speak_once(studio: Studio, row: BatchRow) -> tuple[SpeechResult, bool]:
    """The row's speech, and whether it was reused rather than made (and paid) now."""
    kept = kept_speech(studio, row)
    if kept is not None:
        return kept, True
    try:
        speech = studio.speak(row.tts_text, row.voice_id, row.voice_language or None)
    except InputError as error:
        refused = getattr(error.message, "key", None) == _REFUSED_LENGTH
        if refused and not studio.demo:
            seconds = error.message.params.get("seconds")  # type: ignore[attr-defined]
            _keep(studio, row, RowSpeech(studio.services.clock.wall(), None, None, seconds))
        raise
    if not studio.demo:
        kept_now = RowSpeech(
            studio.services.clock.wall(), speech.audio_id, speech.task_id, speech.duration_s
        )
        _keep(studio, row, kept_now)
    return speech, False


def forget(studio: Studio, row: BatchRow) -> None:
    """Forget the row's kept speech: the provider refused its audio id."""
    studio.journal.forget_row_speech(row.key, _place(studio), studio.owner)


def _keep(studio: Studio, row: BatchRow, speech: RowSpeech) -> None:
    studio.journal.remember_row_speech(row.key, _place(studio), studio.owner, speech)
