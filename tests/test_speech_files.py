"""Text to speech audio is copied home, so the page can play it (even from the demo)."""

from __future__ import annotations

import pytest

from avatar_core.errors import ResultDownloadError
from avatar_core.inputs.audio import prepare_audio
from avatar_core.storage.speech_files import save_speech, speech_path


def test_the_speech_is_copied_into_the_data_folder_and_plays(client, tmp_path):
    result = client.text_to_speech("Hello there, this is a test.", "oversea_male1", "en", 1.0)
    assert result.url

    saved = save_speech(result.url, tmp_path, result.audio_id)

    assert saved.parent == tmp_path / "speech"
    assert saved.stem == result.audio_id
    assert prepare_audio(saved).duration_s > 0.5
    assert not list(saved.parent.glob("*.part"))


def test_a_dead_link_is_one_sentence_and_leaves_nothing(simulator, tmp_path):
    with pytest.raises(ResultDownloadError) as caught:
        save_speech(f"{simulator.base_url}/no/such/audio.mp3", tmp_path, "gone")
    assert "HTTP 404" in str(caught.value)
    assert not (tmp_path / "speech" / "gone.mp3").exists()


def test_odd_ids_and_links_make_safe_file_names(tmp_path):
    path = speech_path(tmp_path, "../../etc/passwd", "https://cdn.example/a.exe?x=1")
    assert path.resolve().parent == (tmp_path / "speech").resolve()
    assert path.suffix == ".mp3"
