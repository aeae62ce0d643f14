"""The page's components, built section by section.

One screen, three steps: the inputs on the left (1 a face, 2 a voice, 3 make it), the
status and the video on the right, with the examples under them and everything else
folded under "More options". On a phone the columns stack, so the video comes right
under Generate.

Each section returns a small dataclass of its components, so the wiring (ui/wiring.py)
names them plainly. The `elem_id`s are a contract: the browser tests and the
screenshots find components by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

import ui.formatting as fmt
import ui.handlers as handlers
from avatar_core.provider.base import PageTexts
from avatar_core.provider.voices import DEFAULT_VOICES
from ui.history_watch import history_timer
from ui.portrait_image import unopened
from ui.sessions import Sessions
from ui.texts import page_text, ui_text

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BROWSER_ID_KEY = "talking-avatar-studio-visitor"


@dataclass
class PortraitInputs:
    image: gr.Image
    url: gr.Textbox
    verdict: gr.Markdown
    refused: gr.Textbox  # the name of a file that is no picture (set by the page's script)


@dataclass
class SpeechInputs:
    """A typed text: Generate makes its speech (Kling text to speech), then the video."""

    text: gr.Textbox
    language: gr.Radio  # the voice list shows this language's voices
    voice: gr.Dropdown
    speed: gr.Slider
    preview: gr.Audio  # the speech made, to listen to (under the video: `_outputs`)
    verdict: gr.Markdown
    options: gr.Row | None = None  # language and speed, under More options: a text's only


@dataclass
class VoiceInputs:
    source: gr.Radio  # "file" (record or upload) or "tts" (type a text)
    groups: list[gr.Group]  # one a source, in handlers.VOICE_SOURCES' order
    file: gr.Audio
    url: gr.Textbox
    speech: SpeechInputs
    audio_id: gr.Textbox
    prior_task_id: gr.Textbox
    trim: gr.Checkbox
    verdict: gr.Markdown
    preview_first: gr.Checkbox | None = None  # "Try the first 10 s first" of a long voice


@dataclass
class JobInputs:
    style: gr.Dropdown
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
    badge: gr.Markdown  # "SIMULATED" over a demo video, in the page's language
    result: gr.Video
    download: gr.DownloadButton  # the video under a readable file name
    make_another: gr.Button
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
    panel: gr.Accordion
    gallery: gr.Gallery
    jobs: gr.State  # the job ids in the gallery's order
    refresh: gr.Button
    video: gr.Video
    download: gr.DownloadButton
    note: gr.Markdown
    timer: gr.Timer  # refreshes the History while one of its jobs is unfinished


@dataclass
class ApiInputs:
    """Hidden components behind the programmatic endpoints (their labels name the API's
    arguments and returns)."""

    image: gr.File
    audio: gr.File
    prompt: gr.Textbox
    mode: gr.Textbox
    task_id: gr.Textbox
    key: gr.Textbox
    video: gr.File
    history: gr.Dataframe
    tts_text: gr.Textbox
    tts_voice: gr.Textbox
    tts_speed: gr.Number
    tts_language: gr.Textbox
    tts_audio_id: gr.Textbox
    tts_task_id: gr.Textbox
    tts_file: gr.File
    tts_message: gr.Textbox
    generate: gr.Button
    status: gr.Button
    use_key: gr.Button
    tts: gr.Button
    list_history: gr.Button


@dataclass
class Page:
    browser_id: gr.BrowserState  # the visitor's id, kept in the browser across visits
    visitor_state: gr.State  # the same id for this session's events (None: an API caller)
    key_state: gr.State  # the key this browser session pasted (None: the app's own)
    voice_seconds: gr.State  # the checked voice file's length, for the estimate
    speech_seconds: gr.State  # the text to speech audio's length
    spoken: gr.State  # the speech made from the typed text (reused for the same text)
    phase: gr.State  # how far the running job got, for Stop's sentence
    banner: gr.Markdown
    portrait: PortraitInputs
    voice: VoiceInputs
    job: JobInputs
    outputs: Outputs
    examples: list[gr.Column]  # English, Chinese: the page shows its language's
    key: KeyPanel
    history: HistoryPanel
    api: ApiInputs


def build_page(sessions: Sessions) -> Page:
    """Every component, in the page's order (inside a `gr.Blocks` context)."""
    # A fixed storage key and secret: the id survives restarts (random ones would not).
    # The secret only scrambles what the browser stores; the page itself carries it.
    browser_id = gr.BrowserState(None, storage_key=BROWSER_ID_KEY, secret=BROWSER_ID_KEY)
    states = browser_id, *(gr.State(None) for _ in range(6))
    gr.Markdown(page_text("intro"), elem_id="intro")
    banner = gr.Markdown(
        page_text("demo_banner"), visible=sessions.default.demo, elem_id="demo_banner"
    )
    gr.Markdown(
        page_text("storage_ephemeral"),
        visible=sessions.default.settings.data_is_ephemeral,
        elem_id="storage_banner",
    )
    with gr.Row(equal_height=False, elem_id="main_row"):
        with gr.Column(scale=5, min_width=320, elem_id="input_column"):
            with gr.Row(equal_height=False, elem_id="face_and_voice"):
                with gr.Column(min_width=200):
                    portrait = _portrait_image()
                with gr.Column(min_width=200):
                    voice_source, groups, file, speech, verdict = _voice_choice()
            job = _make_it(demo=sessions.default.demo)
        with gr.Column(scale=6, min_width=320, elem_id="output_column"):
            outputs = _outputs(speech, demo=sessions.default.demo)
            examples = _examples()
            with gr.Accordion(page_text("more_options"), open=False, elem_id="more_options"):
                url, trim = _more_options(portrait, speech, job)
                preview_first = _preview_switch()
                key = _key_panel(sessions.default.provider_kind.page)
                audio_id, prior_task_id = _for_programmers(outputs, sessions)
            history = _history_panel()
    voice = VoiceInputs(
        voice_source, groups, file, url, speech, audio_id, prior_task_id, trim, verdict,
        preview_first=preview_first,
    )  # fmt: skip
    page = Page(
        *states, banner, portrait, voice, job, outputs, examples, key, history, _api_inputs()
    )
    fill_examples(page)
    return page


def _portrait_image() -> PortraitInputs:
    image = unopened(
        gr.Image(
            label=page_text("portrait"),
            type="filepath",
            image_mode=None,
            sources=["upload", "webcam", "clipboard"],
            elem_id="portrait",
            placeholder=page_text("portrait_hint"),
            height=230,
        )
    )
    verdict = gr.Markdown(elem_id="portrait_verdict", elem_classes="verdict")
    refused = gr.Textbox(  # hidden by the style, not `visible`: the script must reach it
        label=page_text("refused_upload"), show_label=False, container=False,
        elem_id="refused_upload",
    )  # fmt: skip
    return PortraitInputs(image, None, verdict, refused)  # type: ignore[arg-type]  # url: More options


def _voice_choice() -> tuple[gr.Radio, list[gr.Group], gr.Audio, SpeechInputs, gr.Markdown]:
    """Step 2: one choice, recording or uploading a voice, or typing a text."""
    source = gr.Radio(
        [(page_text(label), value) for value, label in handlers.VOICE_SOURCES.items()],
        value="file",
        label=page_text("voice_from"),
        elem_id="voice_source",
    )
    with gr.Group(visible=True, elem_id="file_group") as file_group:
        file = gr.Audio(  # no download/share icons: the person's own voice, not a result
            label=page_text("voice"),
            type="filepath",
            sources=["upload", "microphone"],
            elem_id="voice",
            buttons=[],
        )
    with gr.Group(visible=False, elem_id="tts_group") as speech_group:
        text = gr.Textbox(
            label=page_text("tts_text"),
            placeholder=page_text("tts_placeholder"),
            lines=2,
            max_lines=6,
            elem_id="tts_text",
        )
        voice = gr.Dropdown(
            handlers.voice_choices("en"),
            value=DEFAULT_VOICES["en"],
            label=page_text("tts_voice"),
            elem_id="tts_voice",
            allow_custom_value=True,  # a voice id the list lacks is the provider's to judge
        )
    verdict = gr.Markdown(elem_id="voice_verdict", elem_classes="verdict")
    tts_verdict = gr.Markdown(elem_id="tts_verdict", elem_classes="verdict")
    # the preview of the speech made sits with the result (`_outputs`): shown in this step
    # during a run, it pushed Stop and the status below a laptop's screen
    speech = SpeechInputs(text, None, voice, None, None, tts_verdict)  # type: ignore[arg-type]
    return source, [file_group, speech_group], file, speech, verdict


def _make_it(*, demo: bool) -> JobInputs:
    """Step 3: the cost, Generate and (while a job runs) Stop."""
    cost = gr.Markdown(fmt.cost_text(None, demo=demo), elem_id="cost")
    with gr.Row(elem_id="buttons"):
        generate = gr.Button(page_text("generate"), variant="primary", elem_id="generate", scale=3)
        stop = gr.Button(page_text("stop"), variant="stop", elem_id="stop", visible=False, scale=1)
    allowance = gr.Markdown(elem_id="allowance")
    return JobInputs(None, None, None, None, cost, generate, stop, allowance)  # type: ignore[arg-type]


def _more_options(
    portrait: PortraitInputs, speech: SpeechInputs, job: JobInputs
) -> tuple[gr.Textbox, gr.Checkbox]:
    """What a tester rarely needs, in plain words: the prompt and its styles, the mode,
    the speech's language and speed, trimming, a photo or a voice from the web (the ids
    are folded apart: `_for_programmers`)."""
    job.style = gr.Dropdown(
        [(page_text(f"style_{name}"), name) for name in fmt.PROMPT_STYLES],
        value=fmt.PROMPT_STYLES[0],
        label=page_text("prompt_style"),
        elem_id="prompt_style",
    )
    job.prompt = gr.Textbox(
        label=page_text("prompt"),
        value=ui_text(fmt.style_key(fmt.PROMPT_STYLES[0]), "en"),
        placeholder=page_text(fmt.style_key(fmt.PROMPT_STYLES[0])),
        lines=2,
        elem_id="prompt",
    )
    job.prompt_count = gr.Markdown(fmt.prompt_count(job.prompt.value), elem_id="prompt_count")
    job.mode = gr.Radio(
        [(page_text("mode_std"), "std"), (page_text("mode_pro"), "pro")],
        value="std",
        label=page_text("mode"),
        elem_id="mode",
    )
    with gr.Row(visible=False) as speech.options:  # shown with "Type a text"
        speech.language = gr.Radio(
            [(page_text(label), value) for label, value in handlers.SPEECH_LANGUAGES.items()],
            value="en",
            label=page_text("tts_language"),
            elem_id="tts_language",
        )
        speech.speed = gr.Slider(
            0.8, 2.0, value=1.0, step=0.1, label=page_text("tts_speed"), elem_id="tts_speed"
        )
    trim = gr.Checkbox(label=page_text("trim"), value=False, elem_id="trim")
    with gr.Accordion(page_text("options_web"), open=False, elem_id="from_the_web"):
        portrait.url = gr.Textbox(
            label=page_text("portrait_url"), placeholder="https://…", elem_id="portrait_url"
        )
        url = gr.Textbox(
            label=page_text("voice_url"), placeholder="https://….mp3", elem_id="voice_url"
        )
    return url, trim


def _for_programmers(outputs: Outputs, sessions: Sessions) -> tuple[gr.Textbox, gr.Textbox]:
    """The ids a programmer or the operator may have (an earlier speech's, a video's
    reference number to look up) and the provider in use, folded apart from the options
    a tester reads."""
    with gr.Accordion(page_text("for_programmers"), open=False, elem_id="for_programmers"):
        audio_id = gr.Textbox(label=page_text("audio_id"), elem_id="audio_id")
        prior_task_id = gr.Textbox(label=page_text("prior_task_id"), elem_id="prior_task_id")
        outputs.lookup_id, outputs.lookup_button = _lookup()
        gr.Markdown(  # demo mode: the banner says it all
            _provider_text(sessions),
            visible=not sessions.default.demo,
            elem_id="provider_line",
        )
    return audio_id, prior_task_id


def _preview_switch() -> gr.Checkbox:
    """Of a voice longer than one task takes: make only a preview of its first 10 s, in
    std; the whole, made later in std, reuses it (jobs/long_voice.py)."""
    return gr.Checkbox(label=page_text("preview_first"), value=False, elem_id="preview_first")


def _outputs(speech: SpeechInputs, *, demo: bool) -> Outputs:
    """The status, the video and what goes with it (the speech made from a typed text
    under it, to listen to: `speech.preview`), the folded Details."""
    status = gr.Markdown(page_text("ready"), elem_id="status")
    badge = gr.Markdown(page_text("simulated_badge"), visible=False, elem_id="simulated_badge")
    result = gr.Video(
        label=page_text("result"),
        show_label=False,
        elem_id="result",
        autoplay=True,
        interactive=False,
        height=360,
        buttons=[],  # the labelled Download button below names the file for a person
    )
    with gr.Row(elem_id="after_video"):
        download = gr.DownloadButton(
            page_text("download"), visible=False, variant="primary", size="sm", elem_id="download"
        )
        make_another = gr.Button(
            page_text("make_another"), visible=False, size="sm", elem_id="make_another"
        )
    speech.preview = gr.Audio(
        label=page_text("speech_preview"),
        interactive=False,
        visible=False,
        elem_id="tts_preview",
        buttons=[],
    )
    with gr.Accordion(page_text("details"), open=False, elem_id="details_panel"):
        details = gr.Markdown(elem_id="details")
    return Outputs(status, badge, result, download, make_another, details, None, None)  # type: ignore[arg-type]


def _examples() -> list[gr.Column]:
    """Examples in the page's language (the page shows one column at load); each fills in
    the face, the voice's kind, the recording or the text, and the performance."""
    columns = []
    for language in ("en", "zh"):
        with gr.Column(visible=language == "en", elem_id=f"examples_{language}") as column:
            columns.append(column)
    return columns


def fill_examples(page: Page) -> None:
    """The examples' rows, once the inputs exist (inside their columns): each fills in the
    face, the voice's kind, the recording or the text, the performance and the voice
    that speaks the text."""
    inputs = [
        page.portrait.image,
        page.voice.source,
        page.voice.file,
        page.voice.speech.text,
        page.job.prompt,
        page.voice.speech.voice,
    ]
    for language, column in zip(("en", "zh"), page.examples, strict=True):
        with column:
            rows = handlers.example_rows(ASSETS, language)
            examples = gr.Examples(
                rows,
                inputs=inputs,
                label=ui_text("example", language),
                example_labels=handlers.example_labels(language),
                cache_examples=False,
                examples_per_page=6,
            )
            # Gradio fills the voice in with the list it was built with (English): the
            # list of the speech's language again, so the voice reads in it (职场女青)
            speech = page.voice.speech
            examples.load_input_event.then(
                handlers.show_voices, [speech.language, speech.voice], speech.voice,
                show_progress="hidden", api_visibility="private", queue=False,
            )  # fmt: skip


def _lookup() -> tuple[gr.Textbox, gr.Button]:
    with gr.Accordion(page_text("lookup"), open=False, elem_id="lookup"):
        lookup_id = gr.Textbox(label=page_text("task_id"), elem_id="lookup_id")
        lookup_button = gr.Button(page_text("follow"), elem_id="lookup_button")
    return lookup_id, lookup_button


def _provider_text(sessions: Sessions) -> str:
    """ "Provider: Kling (api-singapore.klingai.com)", in the browser's language (the host
    stays as it is; demo mode names no host)."""
    studio = sessions.default
    provider = studio.provider_kind
    line = str(page_text(provider.page.name))
    host = provider.host(studio.client.base_url)
    return f"{line} ({host})" if host else line


def _key_panel(texts: PageTexts) -> KeyPanel:
    """The box for a person's own key, in the words of the provider in use (on Kling's own
    API the access key and the secret key pasted as ACCESS_KEY:SECRET_KEY)."""
    with gr.Accordion(page_text(texts.own_key), open=False, elem_id="own_key"):
        box = gr.Textbox(label=page_text(texts.key_box), type="password", elem_id="key_box")
        with gr.Row():
            use = gr.Button(page_text("use_key"), elem_id="key_button")
            forget = gr.Button(page_text("forget_key"), elem_id="forget_button")
        note = gr.Markdown(elem_id="key_note")
        doctor = gr.Button(page_text("doctor"), size="sm", elem_id="doctor_button")
        report = gr.Markdown(elem_id="doctor_report")
    return KeyPanel(box, use, forget, note, doctor, report)


def _history_panel() -> HistoryPanel:
    """Empty until the page loads: only then is the visitor known."""
    with gr.Accordion(page_text("history"), open=False, elem_id="history_panel") as panel:
        gallery = gr.Gallery(
            show_label=False,
            label=page_text("history"),
            columns=4,
            fit_columns=False,  # a lone job stays a thumbnail, not a screen-wide picture
            height="auto",
            allow_preview=False,
            object_fit="cover",
            buttons=[],  # "download all" would save the thumbnails, not the videos
            elem_id="history",
        )
        jobs = gr.State([])
        refresh = gr.Button(page_text("history_refresh"), size="sm", elem_id="history_refresh")
        video = gr.Video(  # shown once a picture is chosen (no empty player before)
            label=page_text("history_video"),
            show_label=False,  # its label covered the SIMULATED stamp a demo video carries
            visible=False,
            elem_id="history_video",
            autoplay=True,  # a click on a job plays it
            interactive=False,
            height=300,
            buttons=[],
        )
        download = gr.DownloadButton(
            page_text("download"), visible=False, size="sm", elem_id="history_download"
        )
        note = gr.Markdown(elem_id="history_note")
    return HistoryPanel(panel, gallery, jobs, refresh, video, download, note, history_timer())


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
            history=gr.Dataframe(headers=fmt.HISTORY_HEADERS, label="jobs"),
            tts_text=gr.Textbox(label="text"),
            tts_voice=gr.Textbox(label="voice_id"),
            tts_speed=gr.Number(label="speed", value=1.0),
            tts_language=gr.Textbox(label="language"),
            tts_audio_id=gr.Textbox(label="audio_id"),
            tts_task_id=gr.Textbox(label="task_id"),
            tts_file=gr.File(label="speech_file"),
            tts_message=gr.Textbox(label="message"),
            generate=gr.Button("api generate"),
            status=gr.Button("api status"),
            use_key=gr.Button("api key"),
            tts=gr.Button("api tts"),
            list_history=gr.Button("api history"),
        )
