"""The speeches made here and the speech kept for each batch row, in the journal's
database (tables `speeches` and `row_speeches`, made by `Journal`).

Text to speech is paid too, so what a visitor spent in a day can be counted after a
restart; a batch row's speech is kept so that a rerun does not pay for it again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RowSpeech:
    """The text to speech made for one batch row, kept so that a rerun does not pay again."""

    made_at: float
    audio_id: str | None  # None: refused (too short or too long) after it was made
    task_id: str | None
    seconds: float | None


class SpeechRecords:
    """The journal's speech bookkeeping; `Journal` is one, and gives the connection."""

    def _connection(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Journal's: one connection per thread

    def job_speech_seconds(self, job_id: str) -> float:
        """Seconds of the speech made here that the job `job_id` is made from (0: none)."""
        with self._connection() as db:
            row = db.execute(
                "SELECT SUM(seconds) FROM speeches WHERE job_id = ?", (job_id,)
            ).fetchone()
        return float(row[0] or 0.0)

    def open_speech(
        self,
        *,
        owner: str | None,
        visitor: str | None,
        address: str | None = None,
        seconds: float | None = None,
    ) -> str:
        """Journal a text to speech request before it is sent (`seconds`: its expected
        length, counted in the day's seconds until the speech's own is known); its id."""
        speech_id = "speech-" + uuid.uuid4().hex
        with self._connection() as db:
            db.execute(
                "INSERT INTO speeches (speech_id, created_at, owner, visitor, address, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (speech_id, time.time(), owner, visitor, address, seconds),
            )
        return speech_id

    def speech_made(
        self, speech_id: str, audio_id: str, task_id: str | None, seconds: float | None
    ) -> None:
        with self._connection() as db:
            db.execute(
                "UPDATE speeches SET audio_id = ?, task_id = ?, seconds = COALESCE(?, seconds) "
                "WHERE speech_id = ?",
                (audio_id, task_id, seconds, speech_id),
            )

    def drop_speech(self, speech_id: str) -> None:
        """Forget a speech request the provider did not answer with speech (nothing made)."""
        with self._connection() as db:
            db.execute("DELETE FROM speeches WHERE speech_id = ?", (speech_id,))

    def speech_seconds(self, audio_id: str | None) -> float | None:
        """How long the speech `audio_id` lasts, if it was made here."""
        with self._connection() as db:
            row = db.execute(
                "SELECT seconds FROM speeches WHERE audio_id = ? AND seconds IS NOT NULL",
                (audio_id,),
            ).fetchone()
        return float(row[0]) if row else None

    def remember_row_speech(self, batch_key: str, place: str, owner: str | None,
                            speech: RowSpeech) -> None:  # fmt: skip
        """Keep the speech made for the batch row `batch_key` on the endpoint `place`
        (`audio_id` None: the speech was refused as too short or too long)."""
        with self._connection() as db:
            db.execute(
                "INSERT INTO row_speeches (batch_key, place, owner, made_at, audio_id, task_id, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (batch_key, place, owner, speech.made_at, speech.audio_id, speech.task_id,
                 speech.seconds),
            )  # fmt: skip

    def row_speech(
        self, batch_key: str, place: str, owner: str | None, since: float
    ) -> RowSpeech | None:
        """The latest speech kept for the batch row since `since` (None: none)."""
        with self._connection() as db:
            row = db.execute(
                "SELECT made_at, audio_id, task_id, seconds FROM row_speeches WHERE batch_key = ? "
                "AND place = ? AND owner IS ? AND made_at >= ? ORDER BY made_at DESC LIMIT 1",
                (batch_key, place, owner, since),
            ).fetchone()
        return RowSpeech(*row) if row else None

    def forget_row_speech(self, batch_key: str, place: str, owner: str | None) -> None:
        """Forget the row's kept speech (the provider refused its audio id)."""
        with self._connection() as db:
            db.execute(
                "DELETE FROM row_speeches WHERE batch_key = ? AND place = ? AND owner IS ?",
                (batch_key, place, owner),
            )
