"""Task lifecycle: what a task's status is, derived only from an injectable clock.

A task is `submitted` for `submit_seconds`, `processing` until `task_seconds` after its
create, then `succeed` (or `failed`, or `processing` forever when planned `stuck`). Nothing
moves on its own: status is computed when asked, so a test with a fake clock decides when
time passes. The render starts at create in a background thread; a query that finds a task
due to succeed waits for its render, so "succeed" always comes with a playable file (and
a broken render's "failed" comes at the task's end, never a late "processing").
"""

from __future__ import annotations

import math
import random
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from avatar_core.inputs.cache import PreparedCache, content_key
from avatar_core.simulator.options import SimulatorOptions
from avatar_core.simulator.render import RenderError, RenderResult, render_avatar
from avatar_core.simulator.validation import CreateRequest
from avatar_core.simulator.wire import WireError, new_numeric_id, new_request_id, now_ms

Clock = Callable[[], float]

OUTCOMES = ("succeed", "fail", "stuck")
DEFAULT_FAIL_REASON = (
    "Failure to pass the risk control system: the content may violate the content "
    "security policy (simulated failure)"
)
RESULT_URL_LIFETIME_S = 24 * 3600
_RENDER_SLOTS = threading.BoundedSemaphore(2)  # two renders at a time fill two cores


@dataclass(frozen=True)
class Plan:
    """How the next created task will end: "succeed", "fail" (with `reason`) or "stuck";
    `task_seconds` overrides the simulator's task time."""

    outcome: str = "succeed"
    reason: str | None = None
    task_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; use one of {', '.join(OUTCOMES)}")
        if self.task_seconds is not None:
            seconds = float(self.task_seconds)
            if not seconds >= 0:
                raise ValueError("task_seconds must not be negative")
            object.__setattr__(self, "task_seconds", seconds)


@dataclass
class Task:
    task_id: str
    account: str
    external_task_id: str | None
    created_clock: float
    created_at: int  # wall-clock ms, as the provider reports it
    outcome: str
    reason: str
    task_seconds: float
    submit_seconds: float
    mode: str
    audio_seconds: float
    base_url: str
    callback_url: str | None
    video_id: str = field(default_factory=new_request_id)
    expires: int = field(default_factory=lambda: int(time.time()) + RESULT_URL_LIFETIME_S)
    # Set when the render has finished (well or not); None for tasks that never render.
    render_done: threading.Event | None = None
    render_result: RenderResult | None = None
    render_error: str | None = None

    def state_at(self, elapsed: float, render_done: bool) -> tuple[str, float]:
        """(status, seconds after create when that status began) after `elapsed` seconds.

        A task due to succeed whose render is not done yet is still `processing`.
        """
        submit = min(self.submit_seconds, self.task_seconds)
        if elapsed < submit:
            return "submitted", 0.0
        if self.outcome == "stuck" or elapsed < self.task_seconds:
            return "processing", submit
        if self.outcome == "fail":
            return "failed", self.task_seconds
        if not render_done:
            return "processing", submit
        return ("succeed" if self.render_error is None else "failed"), self.task_seconds

    def failure_reason(self) -> str:
        if self.outcome == "fail":
            return self.reason
        return f"Video generation failed (simulated provider: {self.render_error})"

    def units(self) -> str:
        """final_unit_deduction: the simulator charges 1 unit a started second, 2 in pro."""
        per_second = 2 if self.mode == "pro" else 1
        return str(math.ceil(self.audio_seconds - 1e-6) * per_second)


class TaskBook:
    """Every task the simulator created, plans for the next ones, and their renders."""

    def __init__(
        self, *, clock: Clock, options: SimulatorOptions, results_dir: Path, inputs_dir: Path
    ) -> None:
        self.clock = clock
        self.options = options  # task times and render size, read at each create
        self.results_dir = results_dir
        self.inputs_dir = inputs_dir
        self._renders: PreparedCache[RenderResult] = PreparedCache(lambda r: 1, max_bytes=64)
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._by_external: dict[tuple[str, str], str] = {}
        self._downloads: dict[str, int] = {}  # task id -> video downloads asked for
        self._plans: deque[list[Any]] = deque()  # [Plan, remaining]

    # --- plans ----------------------------------------------------------------------

    def plan(self, plan: Plan, times: int = 1) -> None:
        """End the next `times` created tasks as `plan` says."""
        if int(times) < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._plans.append([plan, int(times)])

    def _next_plan(self) -> Plan:
        if not self._plans:
            return Plan()
        entry = self._plans[0]
        entry[1] -= 1
        if entry[1] == 0:
            self._plans.popleft()
        return entry[0]

    # --- creating and finding -------------------------------------------------------

    def external_id_taken(self, account: str, external_task_id: str | None) -> bool:
        with self._lock:
            return bool(external_task_id) and (account, external_task_id) in self._by_external

    def create(self, account: str, request: CreateRequest, base_url: str) -> Task:
        """Record a task and start its render; raises WireError for a repeated external id,
        or (1303, nothing created) when the account runs `max_running_tasks` already."""
        ext = request.external_task_id
        with self._lock:
            if ext and (account, ext) in self._by_external:
                raise duplicate_external_id(ext)
            self._check_running(account)
            plan = self._next_plan()
            task_id = new_numeric_id()
            while task_id in self._tasks:
                task_id = new_numeric_id()
            task = Task(
                task_id=task_id,
                account=account,
                external_task_id=ext,
                created_clock=self.clock(),
                created_at=now_ms(),
                outcome=plan.outcome,
                reason=plan.reason or DEFAULT_FAIL_REASON,
                task_seconds=self._task_seconds(plan),
                submit_seconds=self.options.submit_seconds,
                mode=request.mode,
                audio_seconds=request.audio_seconds,
                base_url=base_url,
                callback_url=request.callback_url,
            )
            if task.outcome == "succeed":  # failed and stuck tasks never need a video
                task.render_done = threading.Event()  # before anyone can find the task
            self._tasks[task_id] = task
            if ext:
                self._by_external[(account, ext)] = task_id
        if task.render_done is not None:
            self._start_render(task, request)
        return task

    def _check_running(self, account: str) -> None:
        """Kling's concurrency limit of the resource pack (code 1303); under `_lock`."""
        limit = self.options.max_running_tasks
        if not limit:
            return
        now = self.clock()
        running = sum(
            1
            for task in self._tasks.values()
            if task.account == account and not self._ended(task, now)
        )
        if running >= limit:
            raise WireError(
                1303,
                f"The concurrency limit of the resource pack has been exceeded ({running} "
                f"tasks running, limit {limit})",
            )

    @staticmethod
    def _ended(task: Task, now: float) -> bool:
        finished = task.render_done
        done = finished is None or finished.is_set()
        return task.state_at(now - task.created_clock, done)[0] in ("succeed", "failed")

    def _task_seconds(self, plan: Plan) -> float:
        if plan.task_seconds is not None:
            return plan.task_seconds
        options = self.options
        jitter = options.task_seconds_jitter
        spread = random.uniform(-jitter, jitter) if jitter else 0.0
        return max(options.submit_seconds, options.task_seconds + spread)

    def find(self, account: str, ident: str, *, by_external_id: bool = True) -> Task | None:
        """A task of `account` by its task_id, or (`by_external_id`) its external_task_id."""
        with self._lock:
            task = self._tasks.get(ident)
            if task is not None and task.account == account:
                return task
            task_id = self._by_external.get((account, ident)) if by_external_id else None
            return self._tasks.get(task_id) if task_id else None

    def count_download(self, task_id: str) -> int:
        """How many times the task's video was asked for before this time."""
        with self._lock:
            earlier = self._downloads.get(task_id, 0)
            self._downloads[task_id] = earlier + 1
            return earlier

    def tasks(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def succeeded_at_ms(self, task_id: str) -> int | None:
        """When a task planned to succeed does, in wall-clock ms as `updated_at` says it."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.outcome != "succeed":
            return None
        return task.created_at + round(task.task_seconds * 1000)

    def external_ids(self) -> dict[str, str]:
        with self._lock:
            return {ext: task_id for (_, ext), task_id in self._by_external.items()}

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._by_external.clear()
            self._downloads.clear()
            self._plans.clear()

    def pending_plans(self) -> int:
        with self._lock:
            return sum(entry[1] for entry in self._plans)

    # --- rendering ------------------------------------------------------------------

    def _start_render(self, task: Task, request: CreateRequest) -> None:
        out_path = self.results_dir / f"{task.task_id}.mp4"
        finished = task.render_done
        assert finished is not None

        def work() -> None:
            temporary: Path | None = None
            try:
                if request.audio_clip is not None:
                    audio_path = request.audio_clip.path
                else:
                    self.inputs_dir.mkdir(parents=True, exist_ok=True)
                    temporary = self.inputs_dir / f"{task.task_id}.{request.sound_format}"
                    temporary.write_bytes(request.sound or b"")
                    audio_path = temporary
                task.render_result = self._render_once(request, audio_path, out_path)
            except RenderError as exc:
                task.render_error = str(exc)
            except Exception as exc:  # a render bug must fail the task, not hang it
                task.render_error = f"unexpected {type(exc).__name__}: {exc}"
            finally:
                if temporary is not None:
                    temporary.unlink(missing_ok=True)
                finished.set()

        threading.Thread(target=work, name=f"render-{task.task_id}", daemon=True).start()

    def _render_once(
        self, request: CreateRequest, audio_path: Path, out_path: Path
    ) -> RenderResult:
        """Render, or copy the video already rendered from the very same inputs (a demo's
        example sent by a crowd is rendered once)."""
        sound = request.sound if request.sound is not None else audio_path.read_bytes()
        max_side = self.options.render_max_side
        key = content_key(request.image + b"|" + sound, max_side)

        def render() -> RenderResult:
            with _RENDER_SLOTS:
                return render_avatar(request.image, audio_path, out_path, max_side=max_side)

        result = self._renders.get_or_make(key, render)
        if result.path != out_path:
            shutil.copyfile(result.path, out_path)
            result = replace(result, path=out_path)
        return result

    def join_renders(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for task in self.tasks():
            if task.render_done is not None:
                task.render_done.wait(max(0.0, deadline - time.monotonic()))

    # --- status ---------------------------------------------------------------------

    def state(self, task: Task, *, wait: bool = True) -> tuple[str, float]:
        """The task's status now; with `wait`, a task due to succeed waits for its render."""
        elapsed = self.clock() - task.created_clock
        finished = task.render_done
        # Due to end with its render (well or not): decided from the plan, not from
        # `render_error`, which is set before `render_done`, so a broken render is waited
        # for too.
        due = task.outcome == "succeed" and elapsed >= task.task_seconds
        if wait and finished is not None and due:
            finished.wait()
        return task.state_at(elapsed, render_done=finished is None or finished.is_set())

    def snapshot(self, task: Task, *, status: str | None = None, wait: bool = True) -> dict:
        """The `data` a query answers with (for `status`, default the current one)."""
        if status is None:
            status, began = self.state(task, wait=wait)
        else:
            began = {"submitted": 0.0, "processing": min(task.submit_seconds, task.task_seconds)}
            began = began.get(status, task.task_seconds)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "task_status_msg": task.failure_reason() if status == "failed" else "",
            "task_info": task_info(task),
            "created_at": task.created_at,
            "updated_at": task.created_at + round(began * 1000),
        }
        if status == "succeed" and task.render_result is not None:
            data["final_unit_deduction"] = task.units()
            data["task_result"] = {
                "videos": [
                    {
                        "id": task.video_id,
                        "url": f"{task.base_url}/results/{task.task_id}.mp4?expires={task.expires}",
                        "duration": f"{task.render_result.duration:.1f}",
                    }
                ]
            }
        return data


def task_info(task: Task) -> dict[str, str]:
    return {"external_task_id": task.external_task_id} if task.external_task_id else {}


def create_data(task: Task) -> dict[str, Any]:
    """The `data` a successful create answers with."""
    return {
        "task_id": task.task_id,
        "task_status": "submitted",
        "task_info": task_info(task),
        "created_at": task.created_at,
        "updated_at": task.created_at,
    }


def duplicate_external_id(external_task_id: str) -> WireError:
    return WireError(
        1201,
        f"external_task_id {external_task_id!r} is already used by another task of this "
        "account; it must be unique per account",
    )
