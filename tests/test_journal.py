"""The journal keeps every job across restarts and concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from avatar_core.errors import StorageError
from avatar_core.storage.journal import JOURNAL_FILE, Journal, Stage


def _job(journal: Journal, **values):
    return journal.create(base_url="http://127.0.0.1:1", demo=False, **values)


def test_a_job_survives_a_restart_with_every_step(tmp_path):
    journal = Journal(tmp_path)
    job = _job(journal, mode="pro", prompt="hello", audio_seconds=3.5)
    job = journal.update(job, stage=Stage.RUNNING, task_id="123", provider_status="submitted")
    journal.close()

    reopened = Journal(tmp_path)
    again = reopened.get(job.job_id)
    assert again == job
    assert again.stage is Stage.RUNNING and again.task_id == "123" and again.mode == "pro"
    assert reopened.find("123") == again
    assert reopened.find(job.job_id) == again


def test_unfinished_lists_only_jobs_a_restart_must_finish(tmp_path):
    journal = Journal(tmp_path)
    stages = [Stage.CREATING, Stage.OUTCOME_UNKNOWN, Stage.RUNNING, Stage.DOWNLOADING]
    stages += [Stage.DONE, Stage.FAILED, Stage.NOT_CREATED, Stage.LOST]
    ids = {}
    for stage in stages:
        ids[stage] = journal.update(_job(journal), stage=stage).job_id
    open_ids = {job.job_id for job in journal.unfinished()}
    assert open_ids == {ids[s] for s in stages[:4]}


def test_recent_is_newest_first(tmp_path):
    journal = Journal(tmp_path)
    made = [_job(journal).job_id for _ in range(5)]
    assert [j.job_id for j in journal.recent(3)] == made[::-1][:3]


def _write_many(data_dir: str, worker: int, count: int) -> None:
    journal = Journal(data_dir)
    for n in range(count):
        job = journal.create(base_url="http://x", demo=True, prompt=f"{worker}-{n}")
        journal.update(job, stage=Stage.DONE, task_id=f"{worker}-{n}")


def test_concurrent_processes_write_without_losing_a_job(tmp_path):
    Journal(tmp_path)  # make the file and switch it to WAL first
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), w, 40)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    jobs = Journal(tmp_path).recent(1000)
    assert len(jobs) == 160
    assert all(j.stage is Stage.DONE for j in jobs)
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _open_when_told(data_dir: str, go, failures) -> None:
    go.wait()
    try:
        Journal(data_dir).close()
    except StorageError as exc:
        failures.put(str(exc))


def test_processes_opening_a_new_journal_at_once_all_open_it(tmp_path):
    """An app and a command started together on a new data folder: turning the new
    journal to WAL needs it alone, and SQLite said "locked" at once to the others (9 % of
    openers failed, "stayed locked by another process"); each now waits its turn."""
    context = multiprocessing.get_context("fork")  # cheap: nothing to import again
    failures = context.Queue()
    for round_ in range(30):
        folder, go = tmp_path / f"new-{round_}", context.Event()
        openers = [
            context.Process(target=_open_when_told, args=(str(folder), go, failures))
            for _ in range(3)
        ]
        for opener in openers:
            opener.start()
        go.set()
        for opener in openers:
            opener.join(60)
            assert opener.exitcode == 0
    found = []
    while not failures.empty():
        found.append(failures.get())
    assert found == []


def test_a_damaged_journal_gives_one_clear_sentence(tmp_path):
    (tmp_path / JOURNAL_FILE).write_bytes(b"this is not sqlite at all, just junk" * 100)
    with pytest.raises(StorageError) as caught:
        Journal(tmp_path)
    assert "damaged" in str(caught.value) and "move it aside" in str(caught.value)


def test_an_unwritable_data_folder_is_explained(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError) as caught:
        Journal(blocker / "data")
    assert "AVATAR_DATA_DIR" in str(caught.value)


def test_updates_refuse_unknown_fields(tmp_path):
    journal = Journal(tmp_path)
    with pytest.raises(ValueError):
        journal.update(_job(journal), api_key="nope")


def test_a_jobs_error_is_kept_as_its_sentence_so_history_reads_in_each_language(tmp_path):
    from avatar_core.catalogue import Message, sentence_for
    from ui.formatting import history_note, history_rows

    journal = Journal(tmp_path)
    lost = _job(journal)
    journal.update(
        lost, stage=Stage.LOST, error=sentence_for("job.lost", why=sentence_for("job.lost_demo"))
    )
    failed = _job(journal)
    journal.update(failed, stage=Stage.FAILED, error="the provider's own words")  # kept as is
    again = Journal(tmp_path)  # another process, or after a restart
    kept = again.get(lost.job_id)
    assert isinstance(kept.error, Message)
    assert (
        kept.error == "The provider no longer knows this task (the demo simulator was restarted)."
    )
    assert kept.error.in_language("zh") == "服务商已不再知道这个任务（演示模拟器已重启）。"
    assert again.get(failed.job_id).error == "the provider's own words"
    [row] = history_rows([kept], "zh")
    assert "服务商已不再知道这个任务" in row[5]
    assert "演示模拟器已重启" in history_note(kept, language="zh")

    with sqlite3.connect(tmp_path / JOURNAL_FILE) as db:  # a key a later release dropped
        db.execute("UPDATE jobs SET error_said = ? WHERE job_id = ?",
                   ('{"say": "no.such.key", "params": {}}', lost.job_id))  # fmt: skip
    assert Journal(tmp_path).get(lost.job_id).error == kept.error  # its English, as kept
