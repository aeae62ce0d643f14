"""Finished videos come home whole, checked, and never half-written."""

from __future__ import annotations

import base64
import subprocess

import pytest

from avatar_core.errors import ResultDownloadError, StorageError
from avatar_core.inputs.ffmpeg import ffmpeg_exe
from avatar_core.media.video_download import download_video
from avatar_core.provider.client import AvatarRequest
from avatar_core.storage.videos import video_path


@pytest.fixture
def finished_task(client, fake_time, portrait_path, speech_path):
    task = client.create_task(
        AvatarRequest(
            image=base64.b64encode(portrait_path.read_bytes()).decode(),
            sound_file=base64.b64encode(speech_path.read_bytes()).decode(),
            prompt="hello",
        )
    )
    fake_time.sleep(60)
    return client.get_task(task.task_id)


def _decodes(path) -> bool:
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0 and not done.stderr.strip()


def test_the_video_is_stored_under_its_task_id_and_plays(finished_task, tmp_path, fake_time):
    target = video_path(tmp_path, finished_task.task_id)
    path = download_video(finished_task.video_url, target, clock=fake_time)
    assert path == tmp_path / "videos" / f"{finished_task.task_id}.mp4"
    assert _decodes(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left over


def test_a_truncated_download_is_retried_and_comes_out_whole(
    finished_task, simulator, tmp_path, fake_time
):
    simulator.inject("result", "truncated")
    sleeps_before = len(fake_time.sleeps)
    path = download_video(finished_task.video_url, tmp_path / "out" / "v.mp4", clock=fake_time)
    assert _decodes(path)
    assert len(fake_time.sleeps) == sleeps_before + 1  # one retry


def test_an_expired_link_is_explained_and_leaves_nothing(
    finished_task, simulator, tmp_path, fake_time
):
    simulator.inject("result", "expired")
    with pytest.raises(ResultDownloadError) as caught:
        download_video(finished_task.video_url, tmp_path / "out" / "v.mp4", clock=fake_time)
    assert "links expire" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_file_that_is_not_an_mp4_is_refused(simulator, tmp_path, fake_time):
    not_video = simulator.base_url + "/_simulator/stats"
    with pytest.raises(ResultDownloadError) as caught:
        download_video(not_video, tmp_path / "out" / "v.mp4", clock=fake_time)
    assert "not an MP4" in str(caught.value)
    assert not (tmp_path / "out" / "v.mp4").exists()


def test_a_video_over_the_cap_is_not_kept(finished_task, tmp_path, fake_time):
    with pytest.raises(ResultDownloadError) as caught:
        download_video(
            finished_task.video_url,
            tmp_path / "out" / "v.mp4",
            clock=fake_time,
            max_bytes=1000,
        )
    assert "limit" in str(caught.value)
    assert not (tmp_path / "out" / "v.mp4").exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.mp4"])
def test_only_http_links_are_followed(url, tmp_path):
    with pytest.raises(ResultDownloadError):
        download_video(url, tmp_path / "out" / "v.mp4")


def test_a_busy_link_is_asked_again_after_its_retry_after(
    finished_task, simulator, tmp_path, fake_time
):
    simulator.inject("result", "http", status=503, retry_after=4)
    simulator.inject("result", "http", status=524)
    sleeps_before = len(fake_time.sleeps)
    path = download_video(finished_task.video_url, tmp_path / "out" / "v.mp4", clock=fake_time)
    assert _decodes(path)
    waits = fake_time.sleeps[sleeps_before:]
    assert len(waits) == 2 and waits[0] == 4


def test_a_link_that_stays_busy_is_given_up_in_one_sentence(
    finished_task, simulator, tmp_path, fake_time
):
    simulator.inject("result", "http", status=503, times=50)
    with pytest.raises(ResultDownloadError) as caught:
        download_video(finished_task.video_url, tmp_path / "out" / "v.mp4", clock=fake_time)
    assert str(caught.value) == (
        "The video could not be downloaded (HTTP 503): try the lookup again later."
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_the_timeout_passed_down_bounds_each_wait_for_the_file(
    finished_task, simulator, tmp_path, fake_time
):
    """`timeout` is the provider's answer time; the video waits twice that (1 s here), so a
    link 2 s late times out once and comes whole on the retry."""
    simulator.inject("result", "slow", delay=2)
    sleeps_before = len(fake_time.sleeps)
    path = download_video(
        finished_task.video_url, tmp_path / "out" / "v.mp4", clock=fake_time, timeout=0.5
    )
    assert _decodes(path)
    assert len(fake_time.sleeps) == sleeps_before + 1


def test_a_data_folder_that_cannot_be_written_is_a_storage_error(
    finished_task, tmp_path, fake_time
):
    (tmp_path / "videos").write_bytes(b"a file where the folder should be")
    with pytest.raises(StorageError) as caught:
        download_video(finished_task.video_url, video_path(tmp_path, "1"), clock=fake_time)
    assert "could not be written to" in str(caught.value)
    assert "AVATAR_DATA_DIR" in str(caught.value)
