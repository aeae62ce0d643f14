"""The page's components, built section by section.

Each section returns a small dataclass of its components, so the wiring (ui/wiring.py)
names them plainly. The `elem_id`s are a contract: the browser tests and the
screenshots find components by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
from avatar_core.inputs.fields import DEFAULT_PROMPT
from avatar_core.provider.voices import DEFAULT_VOICES, TTS_LANGUAGES
from ui.sessions import Sessions
from ui.texts import t

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BROWSER_ID_KEY = "talking-avatar-studio-visitor"


@dataclass
class PortraitInputs:
    image: gr.Image
    url: gr.Textbox
    verdict: gr.Markdown


@dataclass
class SpeechInputs:
    """Kling text to speech: it fills in the audio id the avatar then speaks."""

    text: gr.Textbox
    language: gr.Radio  # the voice list shows this language's voices
    voice: gr.Dropdown
    speed: gr.Slider
    button: gr.Button
    preview: gr.Audio
    verdict: gr.Markdown


@dataclass
class VoiceInputs:
    source: gr.Radio
    groups: list[gr.Group]  # one a source, in handlers.VOICE_SOURCES' order
    file: gr.Audio
    url: gr.Textbox
    speech: SpeechInputs
    audio_id: gr.Textbox
    prior_task_id: gr.Textbox
    trim: gr.Checkbox
    verdict: gr.Markdown


@dataclass
class JobInputs:
    prompt: gr.Textbox
    prompt_count: gr.Markdown
    mode: gr.Radio
    cost: gr.Markdown
    generate: gr.Button
    stop: gr.Button
    allowance: gr.Markdown  # what the visitor has left today


@dataclass
class Outputs:
    status: gr.Markdown
    result: gr.Video
    details: gr.Markdown
    lookup_id: gr.Textbox
    lookup_button: gr.Button


@dataclass
class KeyPanel:
    box: gr.Textbox
    use: gr.Button
    forget: gr.Button
    note: gr.Markdown
    doctor: gr.Button  # the doctor's free check of the key and the provider's routes
    report: gr.Markdown


@dataclass
class HistoryPanel:
    table: gr.Dataframe
    refresh: gr.Button
    video: gr.Video
    note: gr.Markdown


@dataclass
class ApiInputs:
    """Hidden components behind the programmatic endpoints."""

    image: gr.File
    audio: gr.File
    prompt: gr.Textbox
    mode: gr.Textbox
    task_id: gr.Textbox
    key: gr.Textbox
    video: gr.File
    generate: gr.Button
    status: gr.Button
    use_key: gr.Button


@dataclass
class Page:
    browser_id: gr.BrowserState  # the visitor's id, kept in the browser across visits
    visitor_state: gr.State  # the same id for this session's events (None: an API caller)
    key_state: gr.State  # the key this browser session pasted (None: the app's own)
    voice_seconds: gr.State  # the checked voice file's length, for the estimate
    speech_seconds: gr.State  # the text to speech audio's length
    banner: gr.Markdown
    portrait: PortraitInputs
    voice: VoiceInputs
    job: JobInputs
    outputs: Outputs
    key: KeyPanel
    history: HistoryPanel
    api: ApiInputs


def build_page(sessions: Sessions) -> Page:
    """Every component, in the page's order (inside a `gr.Blocks` context)."""
    # A fixed storage key and secret: the id survives restarts (random ones would not).
    # The secret only scrambles what the browser stores; the page itself carries it.
    browser_id = gr.BrowserState(None, storage_key=BROWSER_ID_KEY, secret=BROWSER_ID_KEY)
    states = browser_id, gr.State(None), gr.State(None), gr.State(None), gr.State(None)
    gr.Markdown(t("intro"))
    banner = gr.Markdown(t("demo_banner"), visible=sessions.default.demo, elem_id="demo_banner")
    gr.Markdown(_provider_text(sessions), elem_id="provider_line")
    gr.Markdown(
        t("storage_ephemeral"),
        visible=sessions.default.settings.data_is_ephemeral,
        elem_id="storage_banner",
    )
    with gr.Row():
        with gr.Column(scale=1):
            portrait = _portrait_inputs()
            voice = _voice_inputs()
            job = _job_inputs()
        with gr.Column(scale=1, elem_id="output_column"):
            outputs = _outputs()
            key = _key_panel(kling=sessions.default.provider_name == "kling")
    example = gr.Examples(
        [[str(ASSETS / "astronaut.jpg"), str(ASSETS / "hello.mp3")]],
        inputs=[portrait.image, voice.file],
        label=t("example"),
        cache_examples=False,
    )
    example.dataset.headers = ["🖼️", "🔊"]  # Gradio does not translate these headers
    history = _history_panel()
    return Page(*states, banner, portrait, voice, job, outputs, key, history, _api_inputs())


def _portrait_inputs() -> PortraitInputs:
    image = gr.Image(
        label=t("portrait"),
        type="filepath",
        image_mode=None,
        sources=["upload", "webcam", "clipboard"],
        elem_id="portrait",
        height=320,
    )
    url = gr.Textbox(label=t("portrait_url"), placeholder="https://…", elem_id="portrait_url")
    verdict = gr.Markdown(elem_id="portrait_verdict", elem_classes="verdict")
    return PortraitInputs(image, url, verdict)


def _voice_inputs() -> VoiceInputs:
    source = gr.Radio(
        [(t(label), value) for value, label in handlers.VOICE_SOURCES.items()],
        value="file",
        label=t("voice_from"),
        elem_id="voice_source",
    )
    with gr.Group(visible=True) as file_group:
        file = gr.Audio(
            label=t("voice"), type="filepath", sources=["upload", "microphone"], elem_id="voice"
        )
    with gr.Group(visible=False) as url_group:
        url = gr.Textbox(label=t("voice_url"), placeholder="https://….mp3", elem_id="voice_url")
    with gr.Group(visible=False) as speech_group:
        speech = _speech_inputs()
    with gr.Group(visible=False) as audio_id_group:
        audio_id = gr.Textbox(label=t("audio_id"), elem_id="audio_id")
        prior_task_id = gr.Textbox(label=t("prior_task_id"), elem_id="prior_task_id")
    trim = gr.Checkbox(label=t("trim"), value=False, elem_id="trim")
    verdict = gr.Markdown(elem_id="voice_verdict", elem_classes="verdict")
    groups = [file_group, url_group, speech_group, audio_id_group]
    return VoiceInputs(source, groups, file, url, speech, audio_id, prior_task_id, trim, verdict)


def _speech_inputs() -> SpeechInputs:
    text = gr.Textbox(label=t("tts_text"), lines=3, elem_id="tts_text")
    first = TTS_LANGUAGES[0]
    with gr.Row():
        language = gr.Radio(
            list(handlers.SPEECH_LANGUAGES.items()),
            value=first,
            label=t("tts_language"),
            elem_id="tts_language",
        )
        voice = gr.Dropdown(
            handlers.voice_choices(first),
            value=DEFAULT_VOICES[first],
            label=t("tts_voice"),
            elem_id="tts_voice",
            allow_custom_value=True,  # a voice id the list lacks is the provider's to judge
        )
        speed = gr.Slider(0.8, 2.0, value=1.0, step=0.1, label=t("tts_speed"), elem_id="tts_speed")
    button = gr.Button(t("make_speech"), elem_id="tts_button")
    preview = gr.Audio(label=t("speech_preview"), interactive=False, elem_id="tts_preview")
    verdict = gr.Markdown(elem_id="tts_verdict", elem_classes="verdict")
    return SpeechInputs(text, language, voice, speed, button, preview, verdict)


def _job_inputs() -> JobInputs:
    prompt = gr.Textbox(label=t("prompt"), placeholder=DEFAULT_PROMPT, lines=2, elem_id="prompt")
    prompt_count = gr.Markdown(fmt.prompt_count(""), elem_id="prompt_count")
    mode = gr.Radio(
        [(t("mode_std"), "std"), (t("mode_pro"), "pro")],
        value="std",
        label=t("mode"),
        elem_id="mode",
    )
    cost = gr.Markdown(fmt.cost_text(None), elem_id="cost")
    with gr.Row():
        generate = gr.Button(t("generate"), variant="primary", elem_id="generate")
        stop = gr.Button(t("stop"), variant="stop", elem_id="stop")
    allowance = gr.Markdown(elem_id="allowance")
    return JobInputs(prompt, prompt_count, mode, cost, generate, stop, allowance)


def _outputs() -> Outputs:
    status = gr.Markdown(t("ready"), elem_id="status")
    result = gr.Video(label=t("result"), elem_id="result", autoplay=True)
    details = gr.Markdown(elem_id="details")
    with gr.Accordion(t("lookup"), open=False, elem_id="lookup"):
        lookup_id = gr.Textbox(label=t("task_id"), elem_id="lookup_id")
        lookup_button = gr.Button(t("follow"), elem_id="lookup_button")
    return Outputs(status, result, details, lookup_id, lookup_button)


def _provider_text(sessions: Sessions) -> str:
    """ "Provider: Kling (api-singapore.klingai.com)", in the browser's language (the host
    stays as it is; demo mode names no host)."""
    studio = sessions.default
    line = str(t(f"provider_{studio.provider_name}"))
    if studio.demo:
        return line
    return f"{line} ({urlsplit(studio.client.base_url).netloc or studio.client.base_url})"


def _key_panel(*, kling: bool = False) -> KeyPanel:
    """The box for a person's own key, for the provider in use: on Kling's own API the
    access key and the secret key pasted as ACCESS_KEY:SECRET_KEY."""
    suffix = "_kling" if kling else ""
    with gr.Accordion(t("own_key" + suffix), open=False, elem_id="own_key"):
        box = gr.Textbox(label=t("key_box" + suffix), type="password", elem_id="key_box")
        with gr.Row():
            use = gr.Button(t("use_key"), elem_id="key_button")
            forget = gr.Button(t("forget_key"), elem_id="forget_button")
        note = gr.Markdown(elem_id="key_note")
        doctor = gr.Button(t("doctor"), size="sm", elem_id="doctor_button")
        report = gr.Markdown(elem_id="doctor_report")
    return KeyPanel(box, use, forget, note, doctor, report)


def _history_panel() -> HistoryPanel:
    """Empty until the page loads: only then is the visitor known."""
    with gr.Accordion(t("history"), open=False, elem_id="history_panel"):
        table = gr.Dataframe(
            headers=fmt.HISTORY_HEADERS,
            interactive=False,
            wrap=True,
            elem_id="history",
        )
        refresh = gr.Button(t("history_refresh"), elem_id="history_refresh")
        video = gr.Video(label=t("history_video"), elem_id="history_video")
        note = gr.Markdown()
    return HistoryPanel(table, refresh, video, note)


def _api_inputs() -> ApiInputs:
    with gr.Group(visible=False):
        return ApiInputs(
            image=gr.File(label="image_path", type="filepath"),
            audio=gr.File(label="audio_path", type="filepath"),
            prompt=gr.Textbox(label="prompt"),
            mode=gr.Textbox(label="mode", value="std"),
            task_id=gr.Textbox(label="task_id"),
            key=gr.Textbox(label="key"),
            video=gr.File(label="video_path"),
            generate=gr.Button("api generate"),
            status=gr.Button("api status"),
            use_key=gr.Button("api key"),
        )
