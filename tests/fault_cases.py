"""The fault matrix: each way the provider (or the disk) can misbehave, and what must follow.

One list serves the command line and the app. A `Fault` arranges the simulator (faults to
inject, how the task will end), says what the person must read (a pattern for the last
line of stderr, or for the app's error) and where the journal must stand afterwards.
`resume_to` names the stage a later `python -m avatar_core resume` must bring the job to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from avatar_core.simulator import Simulator
from avatar_core.storage.journal import Stage

# A create whose answer was lost and whose lookups found nothing: never "not charged".
UNCLEAR = (
    r"Whether job tas-[0-9a-f]{32} reached the provider is still unclear after \d+ lookup\(s\) "
    r"by its external id: the task may exist and be paid for; look it up later with "
    r"`python -m avatar_core status tas-[0-9a-f]{32}` or the page's task lookup, or in the "
    r"CometAPI console, and generate again only if you accept that it may cost twice\."
)
DONE = r"Done: task \d+, [\d.]+ s of video, \d+ units charged\."


@dataclass(frozen=True)
class Fault:
    key: str
    injected: str  # what the simulator (or the system) did, for the report
    arrange: Callable[[Simulator], None]
    exit_code: int = 0
    sentence: str = DONE  # what the last line of stderr must match
    stage: Stage | None = Stage.DONE  # None: no job could be journaled
    creates: int = 1
    create_requests: int = 1  # creates that reached the provider: one, never resent
    http_timeout: float | None = None  # AVATAR_HTTP_TIMEOUT for the run
    create_timeout: float | None = None  # AVATAR_CREATE_TIMEOUT for the run
    deadline: float | None = None  # generate --timeout
    resume_to: Stage | None = None  # run `resume` afterwards; the stage it must reach
    resume_deadline: float | None = None
    big_inputs: bool = False  # the 512 px portrait and 7.3 s speech: a 440 KB video
    file_size_limit: int | None = None  # RLIMIT_FSIZE of the CLI process
    disk_bytes: int | None = None  # the data folder is a tmpfs of this size
    disk_full_first: bool = False  # ...filled up before the run, its journal made
    in_app: bool = True  # also driven through the app's /generate
    app_sentence: str | None = None  # when the app's words differ from the CLI's

    @property
    def app_expectation(self) -> str:
        return self.app_sentence or self.sentence


def _inject(route: str, kind: str, times: int = 1, **params: object) -> Callable[[Simulator], None]:
    return lambda sim: sim.inject(route, kind, times, **params)


def _plan(outcome: str, **params: object) -> Callable[[Simulator], None]:
    return lambda sim: sim.plan_task(outcome, **params)


def _nothing(sim: Simulator) -> None:
    return None


def _profile(name: str, **options: object) -> Callable[[Simulator], None]:
    def arrange(sim: Simulator) -> None:
        sim.use_profile(name)
        sim.options.update(**options)

    return arrange


def _lost_answer_and_lookup(sim: Simulator) -> None:
    sim.inject("create", "reset", after_create=True)
    sim.inject("query", "error", code=1103)  # not retried: this lookup cannot tell


def _lost_answer_without_lookups(sim: Simulator) -> None:
    sim.use_profile("no-external-ids")
    sim.inject("create", "reset", after_create=True)


def _unclear(key: str, injected: str, arrange: Callable[[Simulator], None], creates: int) -> Fault:
    """A create whose outcome stays unclear: the command line looks for 1 s (--timeout 1),
    the app for the whole window on its fake clock; `resume` looks once and leaves it."""
    return Fault(
        key,
        injected,
        arrange,
        exit_code=1,
        sentence=UNCLEAR,
        stage=Stage.OUTCOME_UNKNOWN,
        creates=creates,
        deadline=1,
        resume_to=Stage.OUTCOME_UNKNOWN,
    )


SERVER_500 = (
    r"The provider had an error on its side \(Kling code 5000\): try again in a few minutes\."
)

FAULTS: tuple[Fault, ...] = (
    Fault("none", "nothing: the provider behaves", _nothing),
    # --- rate limits and server errors ---------------------------------------------------
    Fault(
        "429-create",
        "create answered HTTP 429 (Kling 1302) with Retry-After: 1, twice",
        _inject("create", "error", 2, code=1302, retry_after=1),
        create_requests=3,  # refused twice with 429 (nothing made), then made
    ),
    Fault(
        "429-query",
        "status queries answered HTTP 429 with Retry-After: 1, twice",
        _inject("query", "http", 2, status=429, retry_after=1),
    ),
    Fault("500-query", "status queries answered HTTP 500, 3 in a row", _inject("query", "http", 3)),
    Fault(
        "502-query",
        "status queries answered HTTP 502 with a proxy's HTML page, 3 in a row",
        _inject("query", "http", 3, status=502, body="html"),
    ),
    Fault(
        "503-query",
        "status queries answered HTTP 503 with Retry-After: 1, 3 in a row",
        _inject("query", "http", 3, status=503, retry_after=1),
    ),
    Fault(
        "504-query",
        "status queries answered HTTP 504, 3 in a row",
        _inject("query", "http", 3, status=504),
    ),
    Fault(
        "500-query-exhausted",
        "every status query answered HTTP 500, 5 in a row (all retries used)",
        _inject("query", "http", 5, status=500),
        exit_code=1,
        sentence=SERVER_500,
        stage=Stage.RUNNING,
        resume_to=Stage.DONE,
    ),
    Fault(
        "524-query",
        "status queries answered HTTP 524 (a gateway's timeout), 3 in a row",
        _inject("query", "http", 3, status=524),
    ),
    _unclear(
        "503-create",
        "create answered HTTP 503 (nothing created, but nothing says so)",
        _inject("create", "http", status=503),
        creates=0,
    ),
    # --- broken connections ----------------------------------------------------------------
    _unclear(
        "reset-before-create",
        "connection reset on the create, before the provider created anything",
        _inject("create", "reset"),
        creates=0,
    ),
    Fault(
        "reset-after-create",
        "connection reset on the create after the task was created (answer lost)",
        _inject("create", "reset", after_create=True),
    ),
    Fault(
        "outcome-unknown",
        "connection reset after the task was created, and the first lookup by external id "
        "refused (Kling 1103): unclear, then found by the next lookup 5 s later",
        _lost_answer_and_lookup,
    ),
    _unclear(
        "lost-answer-no-lookups",
        "connection reset after the task was created, on a gateway that does not answer "
        "lookups by external id (profile no-external-ids)",
        _lost_answer_without_lookups,
        creates=1,
    ),
    Fault("reset-query", "connection reset on a status query", _inject("query", "reset")),
    Fault("reset-download", "connection reset on the video download", _inject("result", "reset")),
    Fault(
        "slow-create",
        "create answered 3 s late; AVATAR_HTTP_TIMEOUT=1, the create's own timeout left at "
        "its 120 s (profile slow-creates)",
        _profile("slow-creates"),
        http_timeout=1,
    ),
    Fault(
        "timeout-create",
        "create answered 3 s late; AVATAR_CREATE_TIMEOUT=1 (the task was created; the app "
        "waits its 120 s)",
        _inject("create", "slow", delay=3),
        create_timeout=1,
    ),
    Fault(
        "timeout-query",
        "a status query answered 3 s late; AVATAR_HTTP_TIMEOUT=1",
        _inject("query", "slow", delay=3),
        http_timeout=1,
    ),
    Fault(
        "timeout-download",
        "the video download answered 5 s late; AVATAR_HTTP_TIMEOUT=1 (downloads wait 2 s)",
        _inject("result", "slow", delay=5),
        http_timeout=1,
    ),
    # --- answers that are not what they should be --------------------------------------------
    _unclear(
        "malformed-create",
        "create answered with JSON cut in half (nothing created)",
        _inject("create", "malformed"),
        creates=0,
    ),
    Fault(
        "malformed-after-create",
        "create answered with JSON cut in half after the task was created",
        _inject("create", "malformed", after_create=True),
    ),
    Fault(
        "malformed-query",
        "a status query answered with JSON cut in half",
        _inject("query", "malformed"),
    ),
    _unclear(
        "html-create",
        "create answered with an HTML page under HTTP 200",
        _inject("create", "html"),
        creates=0,
    ),
    Fault(
        "html-query",
        "a status query answered with an HTML page under HTTP 200",
        _inject("query", "html"),
    ),
    _unclear(
        "code-create",
        "create answered HTTP 200 with code 5000",
        _inject("create", "code_in_200"),
        creates=0,
    ),
    Fault(
        "code-1102-create",
        "create answered HTTP 200 with code 1102 (no credit), gateway shape",
        _inject("create", "code_in_200", code=1102, shape="gateway"),
        exit_code=1,
        sentence=r"CometAPI's own Kling balance is used up \(Kling code 1102: the gateway's "
        r"resource pack, not your CometAPI balance\): try again later",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    Fault(
        "500-invalid-request-create",
        "create answered HTTP 500 with CometAPI code invalid_request (a refusal)",
        _inject(
            "create",
            "gateway_error",
            code="invalid_request",
            status=500,
            message="prompt is required",
        ),
        exit_code=1,
        sentence=r"The provider refused the request \(CometAPI code invalid_request\): prompt "
        r"is required\.",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    Fault(
        "quota-create",
        "create answered HTTP 403 with CometAPI code insufficient_user_quota (the caller's "
        "balance)",
        _inject("create", "gateway_error", code="insufficient_user_quota", status=403),
        exit_code=1,
        sentence=r"Your CometAPI balance is too low for this request \(CometAPI code "
        r"insufficient_user_quota\): top up your CometAPI account",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    Fault(
        "model-not-found-create",
        "create answered HTTP 503 with CometAPI code model_not_found (no channel)",
        _inject("create", "gateway_error", code="model_not_found", status=503),
        exit_code=1,
        sentence=r"CometAPI has no channel serving Kling Avatar for this key just now",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    Fault(
        "code-1301-create",
        "create refused with code 1301 (content policy), wrapped shape",
        _inject("create", "error", code=1301, shape="wrapped", message="Sensitive content"),
        exit_code=1,
        sentence=r"The provider's content policy blocked this request \(Kling code 1301: "
        r"Sensitive content\)",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    Fault(
        "unserved-route-json-400",
        "the avatar query route answers JSON 400 task_not_exist (profile unserved-json-400)",
        _profile("unserved-json-400"),
    ),
    Fault(
        "unserved-route-json-404",
        'the avatar query route answers JSON 404 "Invalid URL" (profile unserved-json-404)',
        _profile("unserved-json-404"),
    ),
    Fault(
        "code-query",
        "status queries answered HTTP 200 with code 5000, twice",
        _inject("query", "code_in_200", 2),
    ),
    Fault(
        "bad-key",
        "the key is refused: HTTP 401, Kling 1002",
        _inject("create", "error", code=1002),
        exit_code=1,
        sentence=r"CometAPI did not accept the API key \(Kling code 1002\)",
        stage=Stage.NOT_CREATED,
        creates=0,
    ),
    # --- the task itself ---------------------------------------------------------------------
    Fault(
        "failed-task",
        "the task fails: 'The face is turned away from the camera'",
        _plan("fail", reason="The face is turned away from the camera"),
        exit_code=1,
        sentence=r"The provider could not make this video: The face is turned away from the "
        r"camera\. Nothing more will happen",
        stage=Stage.FAILED,
    ),
    Fault(
        "deadline",
        "the task takes 5 s; generate --timeout 1",
        _plan("succeed", task_seconds=5),
        exit_code=1,
        sentence=r"Task \d+ is still (submitted|processing) after 1 s: it goes on at the "
        r"provider; pick it up later",
        stage=Stage.RUNNING,
        deadline=1,
        resume_to=Stage.DONE,
        in_app=False,  # the app has no deadline of its own to pass; see "stuck"
    ),
    Fault(
        "stuck",
        "the task never ends; generate --timeout 1, then resume --timeout 1",
        _plan("stuck"),
        exit_code=1,
        sentence=r"Task \d+ is still (submitted|processing) after 1 s: it goes on at the provider",
        stage=Stage.RUNNING,
        deadline=1,
        resume_to=Stage.RUNNING,
        resume_deadline=1,
        app_sentence=r"Task \d+ is still processing after \d+ s: it goes on at the provider",
    ),
    # --- the video download --------------------------------------------------------------------
    Fault(
        "lagging-link",
        "the video link answers 404 twice right after success (profile lagging-links)",
        _profile("lagging-links"),
    ),
    Fault(
        "lagging-link-requery",
        "the video link answers 404 six times: more than one round of retries",
        _profile("lagging-links", video_link_misses=6),
    ),
    Fault(
        "expired-link",
        "the video link answers 403 'Request has expired' (S3 XML) ten times, a fresh link too",
        _inject("result", "expired", 10),
        exit_code=1,
        sentence=r"The provider's video link no longer works \(HTTP 403; links expire\), even "
        r"the fresh one asked for just now",
        stage=Stage.DOWNLOADING,
        resume_to=Stage.DONE,
    ),
    Fault(
        "truncated-once",
        "the video download stops at half its Content-Length, once",
        _inject("result", "truncated"),
    ),
    Fault(
        "truncated-always",
        "the video download stops at half, 5 times in a row (all retries used)",
        _inject("result", "truncated", 5),
        exit_code=1,
        sentence=r"The video download broke off before the end of the file \(the connection "
        r"closed\): try the lookup again later\.",
        stage=Stage.DOWNLOADING,
        resume_to=Stage.DONE,
    ),
    # --- the data folder -----------------------------------------------------------------------
    Fault(
        "file-size-limit",
        "the CLI may write no file over 256 KB (RLIMIT_FSIZE); the video is 440 KB",
        _nothing,
        exit_code=1,
        sentence=r"The video is larger than this system lets the app write to <data>/videos "
        r"\(a file size limit",
        stage=Stage.DOWNLOADING,
        resume_to=Stage.DONE,
        big_inputs=True,
        file_size_limit=256_000,
        in_app=False,
    ),
    Fault(
        "disk-full",
        "the data folder is a 400 KB tmpfs (full disk); the video is 440 KB; resume after "
        "it grows to 4 MB",
        _nothing,
        exit_code=1,
        sentence=r"The disk holding <data>/videos is full: free some space",
        stage=Stage.DOWNLOADING,
        resume_to=Stage.DONE,
        big_inputs=True,
        disk_bytes=400_000,
        in_app=False,
    ),
    Fault(
        "disk-full-at-start",
        "the data folder is a 256 KB tmpfs, already full when generate starts",
        _nothing,
        exit_code=1,
        sentence=r"The disk holding the journal <data>/journal.sqlite3 is full: free some space, "
        r"then try again\.",
        stage=None,
        creates=0,
        create_requests=0,
        disk_bytes=256_000,
        disk_full_first=True,
        in_app=False,
    ),
)
