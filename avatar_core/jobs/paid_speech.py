"""Paid text to speech for a video: admitted by the visitor's limits, journaled before it
is sent, and counted in the visitor's day until a video uses it."""

from __future__ import annotations

from avatar_core import errors as e
from avatar_core.inputs.audio import MAX_SECONDS as MAX_AUDIO_SECONDS
from avatar_core.jobs.services import ProcessServices
from avatar_core.jobs.session import ProviderSession
from avatar_core.provider.budget import PAID, asking
from avatar_core.provider.models import SpeechResult
from avatar_core.provider.speech import check_speech_length, check_speech_request
from avatar_core.provider.speech_groups import estimated_seconds
from avatar_core.storage.visitors import OPERATOR, Visitor


def speak(
    services: ProcessServices,
    session: ProviderSession,
    text: str,
    voice_id: str,
    language: str | None = None,
    speed: float = 1.0,
    *,
    visitor: Visitor = OPERATOR,
    check_length: bool = True,
) -> SpeechResult:
    """`Studio.speak`: the speech made for the session's key, journaled and counted;
    `check_length` False: its length is the caller's to check (a long text's group,
    kept before it is checked, so that a refused one is never paid for again)."""
    text, language, speed = check_speech_request(text, voice_id, language, speed)
    expected = min(estimated_seconds(text, speed), MAX_AUDIO_SECONDS)  # held till it is made
    journal = services.journal
    with services.limits.admit(session.spender(visitor), speech=True, video_seconds=expected):
        speech_id = journal.open_speech(owner=session.owner, seconds=expected, **visitor.columns())
    try:
        with asking(PAID):
            result = session.client.text_to_speech(text, voice_id, language, speed)
    except e.AvatarError:
        journal.drop_speech(speech_id)
        raise
    journal.speech_made(speech_id, result.audio_id, result.task_id, result.duration_s)
    if check_length:
        check_speech_length(result)
    return result
