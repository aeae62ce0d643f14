"""The command line's job commands: generate, status, resume, simulator.

Each runs the same async flow as the page (`asyncio.run`), with the same scheduler, pacing
and request budget. Progress goes to stderr, the video's path to stdout. Exit codes: 0 done;
1 the provider or the task failed (the job stays in the journal); 2 the input is not
acceptable.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TextIO

from avatar_core.catalogue import in_language, sentence_for
from avatar_core.cli.codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from avatar_core.config import Settings
from avatar_core.demo import DEMO_NOTICE
from avatar_core.inputs.fields import MODES, check_task_id
from avatar_core.jobs.events import Done, Failed, Progress, Submitting, Unclear
from avatar_core.jobs.long_text import TextSpeech, text_groups
from avatar_core.jobs.long_voice import SpeechDone
from avatar_core.jobs.speech_resume import (
    is_speech_key,
    joined_video,
    part_videos,
    resume_speeches,
    run_of,
    speech_status,
)
from avatar_core.jobs.studio import Studio, open_studio
from avatar_core.jobs.video_flow import make_video
from avatar_core.provider.kling import KLING
from avatar_core.provider.voices import DEFAULT_VOICE, TTS_LANGUAGES
from avatar_core.simulator.options import PROFILES

_TIMEOUT_HELP = sentence_for("cli:timeout")


def add_job_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register generate, status, resume and simulator on the CLI's subparsers."""
    gen = subparsers.add_parser("generate", help=sentence_for("cli:generate"))
    gen.add_argument("--image", required=True, help=sentence_for("cli:image"))
    voice = gen.add_mutually_exclusive_group(required=True)
    voice.add_argument("--audio", help=sentence_for("cli:audio"))
    voice.add_argument("--audio-id", help=sentence_for("cli:audio_id"))
    voice.add_argument("--tts-text", help=sentence_for("cli:tts_text"))
    gen.add_argument(
        "--voice-id", default=None, help=sentence_for("cli:voice_id", voice=DEFAULT_VOICE)
    )
    gen.add_argument(
        "--voice-language",
        choices=TTS_LANGUAGES,
        default=None,
        help=sentence_for("cli:voice_language"),
    )
    gen.add_argument("--voice-speed", type=float, default=1.0, help=sentence_for("cli:voice_speed"))
    gen.add_argument("--task-id", dest="prior_task_id", help=sentence_for("cli:task_id"))
    gen.add_argument("--prompt", default=None, help=sentence_for("cli:prompt"))
    gen.add_argument("--mode", choices=MODES, default="std")
    gen.add_argument("--trim", action="store_true", help=sentence_for("cli:trim"))
    gen.add_argument(
        "--shorten-pauses", action="store_true", help=sentence_for("cli:shorten_pauses")
    )
    gen.add_argument("--preview", action="store_true", help=sentence_for("cli:preview"))
    gen.add_argument("--out", type=Path, help=sentence_for("cli:out"))
    gen.add_argument("--timeout", type=float, default=None, help=_TIMEOUT_HELP)
    gen.set_defaults(handler=run_generate)

    status = subparsers.add_parser("status", help=sentence_for("cli:status"))
    status.add_argument("task_id")
    status.add_argument("--wait", action="store_true", help=sentence_for("cli:wait"))
    status.add_argument("--out", type=Path, help=sentence_for("cli:status_out"))
    status.add_argument("--timeout", type=float, default=None, help=_TIMEOUT_HELP)
    status.set_defaults(handler=run_status)

    resume = subparsers.add_parser("resume", help=sentence_for("cli:resume"))
    resume.add_argument("--timeout", type=float, default=None, help=_TIMEOUT_HELP)
    resume.set_defaults(handler=run_resume)

    sim = subparsers.add_parser("simulator", help=sentence_for("cli:simulator"))
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument(
        "--task-seconds", type=float, default=8.0, help=sentence_for("cli:task_seconds")
    )
    sim.add_argument(
        "--profile", choices=sorted(PROFILES), default=None, help=sentence_for("cli:profile")
    )
    sim.add_argument("--kling-auth", action="store_true", help=sentence_for("cli:kling_auth"))
    sim.set_defaults(handler=run_simulator)


def _language(args: argparse.Namespace) -> str:
    return getattr(args, "language", "en")  # set by `main` from LANG


def cli_studio(err: TextIO, language: str = "en") -> Studio:
    """The studio for a command: from the environment, polling (no callbacks)."""
    settings = Settings.from_env()
    if settings.demo_mode:
        print(DEMO_NOTICE.in_language(language), file=err)
    # Callbacks reach the app's route, not this process: the command line polls instead.
    return open_studio(dataclasses.replace(settings, public_url=None))


def _print(progress: Progress, err: TextIO, language: str) -> None:
    message = in_language(progress.message, language)
    print(f"[{progress.step.value:>11}] {message}", file=err, flush=True)
    if isinstance(progress, Submitting) and progress.inputs is not None:
        for line in progress.inputs.report_lines():
            print(f"{'':14}{in_language(line, language)}", file=err)


def _run(
    studio: Studio,
    flow: Callable[[], AsyncIterator[Progress]],
    err: TextIO,
    language: str = "en",
) -> Progress | None:
    """Run one flow to its end, printing each step on stderr; its last event."""

    async def render() -> Progress | None:
        last = None
        async for last in flow():
            _print(last, err, language)
        return last

    try:
        return asyncio.run(render())
    finally:
        studio.close()


def _deliver(progress: Progress | None, out_file: Path | None, out: TextIO) -> int:
    if not isinstance(progress, Done) or progress.video_path is None:
        return EXIT_FAILED
    path = progress.video_path
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out_file)
        path = out_file
    print(path, file=out, flush=True)
    return EXIT_OK


def run_generate(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    studio = cli_studio(err, _language(args))
    audio_id, prior_task_id, spoken_s, text = args.audio_id, args.prior_task_id, None, None
    if args.tts_text:
        voice_id = args.voice_id or DEFAULT_VOICE
        asked = TextSpeech(args.tts_text, voice_id, args.voice_language, args.voice_speed)
        try:  # a text longer than one speech a task takes is spoken and made in parts
            if len(text_groups(studio, asked)) > 1:
                text = asked
            else:
                speech = studio.speak(args.tts_text, voice_id, args.voice_language,
                                      args.voice_speed)  # fmt: skip
        except BaseException:
            studio.close()
            raise
        if text is None:
            spoken = sentence_for("cli.speech", audio_id=speech.audio_id, seconds=speech.duration_s)
            print(f"[     speech] {spoken.in_language(_language(args))}", file=err)
            audio_id, prior_task_id = speech.audio_id, prior_task_id or speech.task_id
            spoken_s = speech.duration_s

    def flow() -> AsyncIterator[Progress]:
        if text is not None:
            return make_video(
                studio, args.image, text=text, prompt=args.prompt, mode=args.mode,
                deadline_s=args.timeout, preview=getattr(args, "preview", False),
            )  # fmt: skip
        return make_video(
            studio,
            args.image,
            args.audio,
            audio_id=audio_id,
            prior_task_id=prior_task_id,
            prompt=args.prompt,
            mode=args.mode,
            trim=args.trim,
            shorten_pauses=getattr(args, "shorten_pauses", False),
            deadline_s=args.timeout,
            audio_seconds=spoken_s,
            preview=getattr(args, "preview", False),
        )

    return _deliver(_run(studio, flow, err, _language(args)), args.out, out)


def run_status(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    task_id = check_task_id(args.task_id)  # before anything: it goes into the request's path
    studio = cli_studio(err, _language(args))
    if is_speech_key(task_id):
        speech = speech_status(studio, task_id)
        if speech is not None:
            return _speech_status(studio, task_id, speech, args, out, err)

    def follow() -> AsyncIterator[Progress]:
        return studio.follow(task_id, deadline_s=args.timeout)

    if args.wait:
        return _deliver(_run(studio, follow, err, _language(args)), args.out, out)
    try:
        task = studio.client.get_task(task_id)
    except BaseException:
        studio.close()
        raise
    detail = (
        sentence_for("cli.task_detail", detail=task.status_message) if task.status_message else ""
    )
    status = task.raw_status or task.status.value
    line = sentence_for("cli.task_status", task_id=task.task_id, status=status, detail=detail)
    print(line.in_language(_language(args)), file=err)
    if task.is_terminal and task.video_url:
        return _deliver(_run(studio, follow, err, _language(args)), args.out, out)
    studio.close()
    return EXIT_FAILED if task.is_terminal else EXIT_OK


def _speech_status(
    studio: Studio, key: str, lines: list, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    """`status KEY` of a long speech: each part's state; with `--wait`, the speech made
    whole (a failed part reported, not made again) and joined."""
    for line in lines:
        print(line.in_language(_language(args)), file=err)
    run = run_of(studio, key, deadline_s=args.timeout)
    if run is None:  # no plan left: the speech was joined
        studio.close()
        return _deliver(SpeechDone(lines[0], joined=joined_video(studio, key)), args.out, out)
    if not args.wait:
        studio.close()
        return EXIT_OK
    return _deliver(_run(studio, run.run, err, _language(args)), args.out, out)


def run_resume(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    studio = cli_studio(err, _language(args))
    ended: list[Progress] = []

    async def every_job() -> AsyncIterator[Progress]:
        async for progress in studio.resume(deadline_s=args.timeout):
            yield progress
        async for progress in resume_speeches(studio, deadline_s=args.timeout):
            yield progress

    printed: set[Path] = set()

    def say(path: Path) -> None:  # each video once: a part's may end here and in its speech
        if path not in printed:
            printed.add(path)
            print(path, file=out, flush=True)

    async def resume() -> AsyncIterator[Progress]:
        async for progress in every_job():
            if isinstance(progress, SpeechDone) and progress.key:  # its parts, then itself
                for part in await asyncio.to_thread(part_videos, studio, progress.key):
                    say(part)
            if isinstance(progress, Done) and progress.video_path:
                say(Path(progress.video_path))
            if isinstance(progress, (Done, Failed, Unclear)):
                ended.append(progress)
            yield progress

    _run(studio, resume, err, _language(args))
    finished = sum(isinstance(p, Done) for p in ended)
    failures = len(ended) - finished
    summary = sentence_for("cli.resumed", finished=finished, failures=failures)
    print(summary.in_language(_language(args)), file=err)
    return EXIT_FAILED if failures else EXIT_OK


def run_simulator(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    from avatar_core.simulator import serve_forever

    options = {}
    if args.kling_auth:
        settings = Settings.from_env()  # one Kling key without the other: one sentence
        keys = KLING.key_pair(settings)
        if keys is None:
            print(sentence_for("cli.simulator_needs_keys").in_language(_language(args)), file=err)
            return EXIT_BAD_INPUT
        options["kling_keys"] = keys
    serve_forever(
        host=args.host,
        port=args.port,
        task_seconds=args.task_seconds,
        profile=args.profile,
        **options,
    )
    return EXIT_OK
