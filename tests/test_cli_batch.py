"""`python -m avatar_core batch FILE.csv` as a person runs it, against the simulator.

A bad file is refused by a process of its own (exit 2, nothing sent): the command line's
`main(argv)` in a child forked from a process that imported it once
(tests/cli_children.py). The runs go through `main` in this process with a studio on the
simulator's fake clock (the harness's `make_studio`), so tasks of 20 s cost no real time;
everything else is the command's own: reading and checking the file, the flows, the
journal, the videos and results.csv.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from app_harness import make_studio
from cli_children import run_cli_child
from held_tasks import hold_tasks
from media import PORTRAIT, REPO_ROOT, SPEECH, audio_bytes, image_bytes

from avatar_core.cli import batch as batch_command
from avatar_core.cli.main import main
from avatar_core.jobs.batch import one_batch_at_a_time
from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Journal

SPOKEN = "Hello, this row is spoken by Kling's text to speech and lasts a few seconds."
HEADER = "image,audio,tts_text,voice_id,voice_language,prompt,mode"


def write_csv(folder: Path, text: str, name: str = "rows.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def media(tmp_path) -> Path:
    """A folder with a portrait and a voice, as a person's batch folder would hold."""
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "face.jpg").write_bytes(PORTRAIT.read_bytes())
    (folder / "voice.mp3").write_bytes(SPEECH.read_bytes())
    return folder


GOOD_ROWS = f"""{HEADER}
face.jpg,voice.mp3,,,,Nod and smile,pro
face.jpg,,"{SPOKEN}",genshin_vindi2,en,,
face.jpg,voice.mp3,,,,,
"""


class Batch:
    """`batch` run in this process on the simulator; each run has a studio of its own
    (as each command has) over one data folder."""

    def __init__(self, sim: Simulator, fake_time, data_dir: Path, monkeypatch) -> None:
        self.sim = sim
        self.settings: dict[str, object] = {}  # more Settings fields for the next runs

        def studio(err, language="en"):
            return make_studio(sim, fake_time, data_dir, **self.settings)

        monkeypatch.setattr(batch_command, "cli_studio", studio)
        self.journal = Journal(data_dir)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["batch", *args], out=out, err=err)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def batch(simulator, fake_time, tmp_path, monkeypatch) -> Batch:
    return Batch(simulator, fake_time, tmp_path / "data", monkeypatch)


def results_of(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- a bad file: refused whole, nothing sent ----------------------------------------------------


@pytest.fixture(scope="module")
def live_sim(tmp_path_factory):
    with Simulator(task_seconds=0.2, work_dir=tmp_path_factory.mktemp("sim")) as sim:
        yield sim


def test_a_bad_file_names_each_bad_row_and_column_and_sends_nothing(live_sim, media, tmp_path):
    (media / "tiny.png").write_bytes(image_bytes(120, 120, fmt="PNG"))
    (media / "short.wav").write_bytes(audio_bytes(0.5))
    (media / "notes.wav").write_text("not a wave file")
    rows = f"""{HEADER}
missing.jpg,voice.mp3,,,,,
tiny.png,short.wav,,,,,
face.jpg,voice.mp3,"{SPOKEN}",uk_man2,,,
face.jpg,,,,,,
face.jpg,voice.mp3,,,,,ultra
face.jpg,,你好，这是一段测试语音。,oversea_male1,zh,,
face.jpg,,"{SPOKEN}",,,,
face.jpg,notes.wav,,,,,
face.jpg,voice.mp3,,,,Fine,std
"""
    env = {
        **os.environ,
        "COMETAPI_KEY": "batch-key",
        "COMETAPI_BASE_URL": live_sim.base_url,
        "AVATAR_DATA_DIR": str(tmp_path / "data"),
        "PYTHONIOENCODING": "utf-8",
    }
    done = run_cli_child("batch", str(write_csv(media, rows)), env=env, cwd=REPO_ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    expected = {
        "Row 2, column image: The image file 'missing.jpg' was not found",
        "Row 3, column image: ",
        "Row 3, column audio: ",
        "Row 4, column audio and tts_text: both are filled",
        "Row 5, column audio or tts_text: neither is filled",
        "Row 6, column mode: The mode 'ultra' is not one the video maker knows",
        "Row 7, column voice_id: The voice 'oversea_male1' speaks English only, not Chinese",
        "Row 8, column voice_id: empty",
        "Row 9, column audio: ",
    }
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, done.stderr)
    assert "120×120" in done.stderr or "120x120" in done.stderr
    assert not any(line.startswith("Row 10") for line in lines)  # the good row
    assert lines[-1].startswith("Nothing was sent: fix the row(s) above")
    assert "Traceback" not in done.stderr
    assert live_sim.stats.creates == 0 and live_sim.stats.tts == 0
    assert Journal(tmp_path / "data").recent() == []
    assert not (media / "rows-videos").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "it is empty"),
        (b"face.jpg,voice.mp3\n", "is not a header naming the columns"),
        (b"image,audio,voice,speed\nface.jpg,voice.mp3,a,1\n",
         "unknown column(s) 'voice', 'speed'"),
        ("image,audio\nvisage-\u00e9t\u00e9.jpg,voice.mp3\n".encode("latin-1"), "is not UTF-8"),
        (b"image,audio\n" + b"face.jpg,voice.mp3\n" * 1001, "it has 1001 rows; a batch takes"),
        (b"image,audio\nface.jpg,voice.mp3,extra\n", "Row 2: it has 3 cells but the header"),
        (b"image,audio\n", "it has a header but no rows"),
        (b"image,prompt\nface.jpg," + b"x" * 140_000 + b"\n", "it is not a well-formed CSV file"),
    ],
    ids=["empty", "no-header", "unknown-columns", "not-utf8", "too-many-rows", "extra-cell",
         "no-rows", "huge-cell"],
)  # fmt: skip
def test_a_file_that_cannot_be_a_batch_is_one_sentence_and_exit_2(batch, media, content, words):
    path = media / "rows.csv"
    path.write_bytes(content)
    code, out, err = batch(str(path))
    assert code == 2 and out == ""
    assert words in err, err
    assert batch.sim.stats.creates == 0


# --- runs ------------------------------------------------------------------------------------


def test_a_run_makes_every_video_and_results_csv_and_a_rerun_sends_nothing(batch, media):
    path = write_csv(media, GOOD_ROWS)
    code, out, err = batch(str(path))
    assert code == 0, err
    folder = media / "rows-videos"  # the default: beside the CSV, named after it
    assert out.strip() == str(folder / "results.csv")
    results = results_of(folder)
    assert [r["row"] for r in results] == ["2", "3", "4"]
    for result in results:
        assert result["status"] == "done" and result["error"] == "", result
        video = Path(result["video"])
        assert video.parent == folder and video.read_bytes()[4:8] == b"ftyp"
        assert result["task_id"] and float(result["seconds"]) >= 0
    assert sorted(p.name for p in folder.glob("*.mp4")) == [
        "row-002.mp4", "row-003.mp4", "row-004.mp4"
    ]  # fmt: skip
    assert batch.sim.stats.creates == 3 and batch.sim.stats.tts == 1
    assert "\r" not in err and "\x1b" not in err  # not a terminal: plain lines
    assert "done 3, failed 0, running 0, in line 0, waiting 0" in err
    jobs = {job.task_id: job for job in batch.journal.recent()}
    assert {jobs[r["task_id"]].mode for r in results} == {"pro", "std"}

    (folder / "row-003.mp4").unlink()  # a video lost from the output folder
    again, _, err = batch(str(path))
    assert again == 0, err
    assert batch.sim.stats.creates == 3 and batch.sim.stats.tts == 1  # nothing sent twice
    assert (folder / "row-003.mp4").read_bytes()[4:8] == b"ftyp"
    assert "made by an earlier run" in err
    assert [r["task_id"] for r in results_of(folder)] == [r["task_id"] for r in results]


def test_a_row_failing_at_the_provider_exits_1_is_listed_and_retried_only_when_asked(
    batch, media, tmp_path
):
    path = write_csv(media, GOOD_ROWS)
    out_dir = tmp_path / "out"
    batch.sim.plan_task(outcome="fail", reason="Image contains no recognisable face")
    code, _, err = batch(str(path), "--out", str(out_dir), "--jobs", "2")
    assert code == 1
    [failed] = [r for r in results_of(out_dir) if r["status"] == "failed"]
    assert "Image contains no recognisable face" in failed["error"] and failed["video"] == ""
    last = err.strip().splitlines()
    assert any(
        line.startswith(f"row {failed['row']} (failed): ") and "recognisable face" in line
        for line in last
    )
    assert last[-1] == f"2 of 3 row(s) done; videos and results.csv in {out_dir}."
    assert len(list(out_dir.glob("*.mp4"))) == 2 and batch.sim.stats.creates == 3

    again, _, err = batch(str(path), "--out", str(out_dir))
    assert again == 1 and "--retry-failed" in err
    assert batch.sim.stats.creates == 3  # reported again, not sent again

    retried, _, err = batch(str(path), "--out", str(out_dir), "--retry-failed")
    assert retried == 0, err
    assert batch.sim.stats.creates == 4  # only the failed row
    assert all(r["status"] == "done" for r in results_of(out_dir))


def test_a_row_refused_at_create_charged_nothing_and_the_rerun_sends_it(batch, media):
    path = write_csv(media, f"{HEADER}\nface.jpg,voice.mp3,,,,,\nface.jpg,voice.mp3,,,,,pro\n")
    batch.sim.inject("create", "code_in_200", code=1102, shape="gateway")  # no credit
    code, _, err = batch(str(path), "--jobs", "1")
    assert code == 1
    [refused] = [r for r in results_of(media / "rows-videos") if r["status"] == "failed"]
    assert "running the file again sends this row again" in refused["error"]
    assert refused["task_id"] == ""

    again, _, err = batch(str(path))
    assert again == 0, err
    assert batch.sim.stats.count("create") == 3  # the refused row once more, the other never


def test_a_row_still_running_is_followed_by_the_rerun_never_sent_again(batch, media):
    path = write_csv(media, f"{HEADER}\nface.jpg,voice.mp3,,,,,\n")
    batch.sim.plan_task(outcome="succeed", task_seconds=500)
    code, _, err = batch(str(path), "--timeout", "60")
    assert code == 1
    [row] = results_of(media / "rows-videos")
    assert row["status"] == "unclear" and "never sent twice" in row["error"]

    again, _, err = batch(str(path))
    assert again == 0, err
    [row_again] = results_of(media / "rows-videos")
    assert row_again["task_id"] == row["task_id"] and row_again["status"] == "done"
    assert "following task" in err
    assert batch.sim.stats.creates == 1


def test_a_second_batch_on_the_same_data_folder_is_refused_while_one_runs(batch, media, tmp_path):
    """Two runs of one file at once would both find a row unsent: the second waits its turn."""
    path = write_csv(media, GOOD_ROWS)
    with one_batch_at_a_time(tmp_path / "data"):  # as a batch running in another terminal
        code, _, err = batch(str(path))
    assert code == 1
    assert "Another batch is running on the data folder" in err.strip().splitlines()[-1]
    assert batch.sim.stats.creates == 0 and batch.sim.stats.tts == 0


def test_rows_go_through_the_line_so_an_account_of_two_tasks_at_once_fails_no_row(
    batch, media, fake_time, monkeypatch
):
    batch.sim.options.max_running_tasks = 2  # the account runs two tasks at once
    # the first two tasks stand still until the third create is refused: without the hold
    # they could end first (the fake clock moves as fast as their checks come, while the
    # third row is prepared in real time) and nothing would be refused
    hold = hold_tasks(batch.sim, fake_time, monkeypatch, refusals=1)
    rows = "\n".join([HEADER, *["face.jpg,voice.mp3,,,,,"] * 5]) + "\n"
    code, _, err = batch(str(write_csv(media, rows)))
    assert code == 0, err
    assert [r["status"] for r in results_of(media / "rows-videos")] == ["done"] * 5
    assert batch.sim.stats.creates == 5  # each row once
    assert batch.sim.stats.busy_refusals > 0  # the account refused some: the line sent them again
    assert not hold.gave_up  # a third create came while two tasks ran


# --- what a rerun pays for, and what it says --------------------------------------------------

SHORT_ROW = "face.jpg,,你好,genshin_vindi2,zh,,"  # about 1 s of speech: too short for Kling


def test_a_too_short_speech_is_said_in_chinese_and_the_rerun_does_not_pay_for_it_again(
    batch, media, monkeypatch
):
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    path = write_csv(media, f"{HEADER}\n{SHORT_ROW}\n")
    code, _, err = batch(str(path))
    assert code == 1 and batch.sim.stats.tts == 1 and batch.sim.stats.creates == 0
    [ended] = [line for line in err.splitlines() if line.startswith("第 2 行（")]
    said = "第 2 行（失败）：语音时长 1.0 秒；这里视频生成服务接受 2 到 60 秒"
    assert ended.startswith(said), ended
    assert ended.endswith("然后重新生成语音。该行没有发送任何视频任务。"), ended
    english = ("failed", "The speech", "no video task", "say a little more")
    assert not any(word in err for word in english), err
    assert "失败 1" in err  # the counts too
    [row] = results_of(media / "rows-videos")
    assert row["status"] == "failed" and row["error"].startswith("语音时长 1.0 秒")

    again, _, err_again = batch(str(path))
    assert again == 1 and batch.sim.stats.tts == 1  # refused again, not paid again
    assert [line for line in err_again.splitlines() if line.startswith("第 2 行（")] == [ended]


def test_a_spoken_row_refused_at_create_reuses_its_speech_on_the_rerun(batch, media):
    path = write_csv(media, f'{HEADER}\nface.jpg,,"{SPOKEN}",genshin_vindi2,en,,\n')
    batch.sim.inject("create", "code_in_200", code=1102, shape="gateway")  # no credit
    code, _, err = batch(str(path))
    assert code == 1 and batch.sim.stats.tts == 1
    assert "No video task was made; running the file again sends this row again." in err

    again, _, err = batch(str(path))
    assert again == 0, err
    assert batch.sim.stats.tts == 1  # the speech of the first run, not paid for again
    assert batch.sim.stats.count("create") == 2
    [job] = [j for j in batch.journal.recent() if j.task_id]
    assert job.audio_kind == "audio_id"


def test_a_row_refused_for_its_picture_or_prompt_never_pays_its_speech_again(batch, media):
    path = write_csv(media, f'{HEADER}\nface.jpg,,"{SPOKEN}",genshin_vindi2,en,Smile,\n')
    batch.sim.inject("create", "code_in_200", times=3, code=1201, shape="gateway",
                     message="prompt contains words that are not allowed")  # fmt: skip
    for _ in range(3):
        code, _, err = batch(str(path))
        assert code == 1, err
    assert batch.sim.stats.tts == 1  # the speech of the first run, kept for every rerun


def test_a_row_whose_kept_audio_id_is_refused_speaks_again_on_the_next_run(batch, media):
    path = write_csv(media, f'{HEADER}\nface.jpg,,"{SPOKEN}",genshin_vindi2,en,,\n')
    batch.sim.inject("create", "code_in_200", times=2, code=1201, shape="gateway",
                     message="audio_id was not found: use an id the TTS returned")  # fmt: skip
    assert batch(str(path))[0] == 1 and batch.sim.stats.tts == 1
    assert batch(str(path))[0] == 1 and batch.sim.stats.tts == 1  # reused, refused: forgotten
    code, _, err = batch(str(path))
    assert code == 0, err
    assert batch.sim.stats.tts == 2  # spoken again, once


def test_blank_lines_and_a_new_row_above_send_nothing_twice(batch, media):
    rows = ["face.jpg,voice.mp3,,,,,", "face.jpg,voice.mp3,,,,Wave,", "face.jpg,voice.mp3,,,,,"]
    path = write_csv(media, "\n".join([HEADER, *rows]) + "\n")
    code, _, err = batch(str(path))
    assert code == 0 and batch.sim.stats.creates == 3, err

    moved = [HEADER, "", "face.jpg,voice.mp3,,,,Smile,", rows[0], "", "", *rows[1:]]
    write_csv(media, "\n".join(moved) + "\n")
    again, _, err = batch(str(path))
    assert again == 0, err
    assert batch.sim.stats.creates == 4  # only the new row; the same rows lower down are found
    assert [r["row"] for r in results_of(media / "rows-videos")] == ["3", "4", "7", "8"]


def test_rows_waiting_in_line_are_counted_in_line_not_running(batch, media):
    batch.settings["max_running_tasks"] = 1  # the line sends one create at a time
    rows = "\n".join([HEADER, *["face.jpg,voice.mp3,,,,,"] * 3]) + "\n"
    code, _, err = batch(str(write_csv(media, rows)), "--jobs", "3")
    assert code == 0, err
    waiting = [line for line in err.splitlines() if "in line, not sent yet" in line]
    assert waiting, err
    assert any("running 1, in line 2" in line for line in waiting), waiting
    assert batch.sim.stats.creates == 3


LONG_TEXT = (
    "The harbour wakes before the town does. Boats knock against the pier.\n"
    "By eight the market is full. Children weave between the stalls.\n"
    "In the evening the wind turns. The lights come on along the water."
)


def test_rows_with_a_long_voice_or_a_long_text_each_give_one_joined_video(
    simulator, fake_time, tmp_path, monkeypatch, media
):
    """A part limit of 8 s (the provider's profile): a 20 s voice and a text of three
    paragraphs are each made in parts and joined; the row's video is the joined one, its
    task id the speech's key; a rerun sends nothing."""
    from dataclasses import replace

    from speech_media import speech_like, write_wav

    from avatar_core.media.probe import probe_video

    simulator.options.render_max_side = 48

    def studio(err, language="en"):
        made = make_studio(simulator, fake_time, tmp_path / "data")
        made.client.profile = replace(made.client.profile, max_part_seconds=8.0)
        return made

    monkeypatch.setattr(batch_command, "cli_studio", studio)
    write_wav(media / "long.wav", speech_like(20.0, lead=0.5, tail=0.5, seed=5,
                                              phrase=(2.0, 3.0), pause=(0.4, 0.6)))  # fmt: skip
    rows = f'{HEADER}\nface.jpg,long.wav,,,,,\nface.jpg,,"{LONG_TEXT}",genshin_vindi2,en,,\n'
    path = write_csv(media, rows)
    out, err = io.StringIO(), io.StringIO()
    code = main(["batch", str(path)], out=out, err=err)
    assert code == 0, err.getvalue()
    results = results_of(media / "rows-videos")
    assert [r["status"] for r in results] == ["done", "done"], results
    creates, tts = simulator.stats.creates, simulator.stats.tts
    assert tts >= 2 and creates >= tts + 2  # each long row made in parts, a speech a group
    voice, text = (Path(r["video"]) for r in results)
    assert voice.name == "row-002.mp4" and text.name == "row-003.mp4"
    assert 18.5 <= probe_video(voice).seconds <= 20.05  # one video of the whole voice
    journal = Journal(tmp_path / "data")
    for result in results:
        key = result["task_id"]
        assert re.fullmatch(r"[0-9a-f]{20}", key), key  # the speech's: `status KEY` knows it
        assert journal.batch_job(f"speech:{key}:2") is not None
        assert (tmp_path / "data" / "videos" / f"speech-{key}.mp4").is_file()
    again = main(["batch", str(path)], out=io.StringIO(), err=err)
    assert again == 0 and simulator.stats.creates == creates and simulator.stats.tts == tts
