"""Text to speech audio is copied home, so the page can play it (even from the demo)."""

from __future__ import annotations

import pytest
from file_server import file_server

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
    assert list(saved.parent.iterdir()) == [saved]  # no partial file left over


def test_a_dead_link_is_one_sentence_and_leaves_nothing(simulator, tmp_path):
    with pytest.raises(ResultDownloadError) as caught:
        save_speech(f"{simulator.base_url}/no/such/audio.mp3", tmp_path, "gone")
    assert str(caught.value) == "The speech could not be fetched for a preview (HTTP 404)."
    assert list((tmp_path / "speech").iterdir()) == []


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/declared-huge", "The speech file is larger than any speech should be: no preview."),
        ("/short", "The speech could not be fetched for a preview."),
    ],
)
def test_a_link_that_is_not_a_speech_is_one_sentence_and_leaves_nothing(tmp_path, path, said):
    with file_server(b"ID3" + bytes(997)) as web, pytest.raises(ResultDownloadError) as caught:
        save_speech(web.url(path), tmp_path, "odd", timeout=5)
    assert str(caught.value) == said
    assert list((tmp_path / "speech").iterdir()) == []


def test_a_data_folder_that_cannot_be_written_is_one_sentence(simulator, tmp_path):
    (tmp_path / "speech").write_bytes(b"a file where the folder should be")
    with pytest.raises(ResultDownloadError, match="could not be saved for a preview"):
        save_speech(f"{simulator.base_url}/any.mp3", tmp_path, "x")


def test_only_http_links_are_followed(tmp_path):
    with pytest.raises(ResultDownloadError, match="not http"):
        save_speech("file:///etc/passwd", tmp_path, "x")


def test_odd_ids_and_links_make_safe_file_names(tmp_path):
    path = speech_path(tmp_path, "../../etc/passwd", "https://cdn.example/a.exe?x=1")
    assert path.resolve().parent == (tmp_path / "speech").resolve()
    assert path.suffix == ".mp3"
