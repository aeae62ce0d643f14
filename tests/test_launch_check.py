"""The app's start asks for its own page patiently (ui.patient_url_ok): Gradio's own check
gives up at the first answer slower than 3 s, and a loaded machine's first page can take
longer; the app then refused to start ("When localhost is not accessible...")."""

from __future__ import annotations

import inspect

import gradio as gr
from gradio import networking

import ui


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_a_page_slow_to_answer_at_first_is_asked_again_until_it_answers():
    time, asked = FakeTime(), []

    def check(url: str) -> bool:  # Gradio's check: False after a 3 s timeout
        asked.append(url)
        time.t += 3.0
        return len(asked) == 3

    url_ok = ui.patient_url_ok(check, seconds=60, now=time.now, sleep=time.sleep)
    assert url_ok("http://127.0.0.1:7860/") is True
    assert asked == ["http://127.0.0.1:7860/"] * 3 and time.slept == [0.5, 0.5]


def test_a_page_that_never_answers_is_given_up_after_its_seconds():
    time = FakeTime()

    def check(url: str) -> bool:
        time.t += 3.0
        return False

    url_ok = ui.patient_url_ok(check, seconds=60, now=time.now, sleep=time.sleep)
    assert url_ok("http://127.0.0.1:7860/") is False
    assert 60 <= time.t < 60 + 3.5


def test_gradios_launch_asks_the_patient_check():
    assert getattr(networking.url_ok, "patient", False)  # set once ui is imported
    assert "networking.url_ok(self.local_url)" in inspect.getsource(gr.Blocks.launch)
