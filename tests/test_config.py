"""The environment is read once, into Settings; what it says is passed down from there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avatar_core.config import (
    DEFAULT_CREATE_TIMEOUT_S,
    DEFAULT_FOLLOW_DEADLINE_S,
    DEFAULT_HTTP_TIMEOUT_S,
    Settings,
    limits_in_force,
)
from avatar_core.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "seconds"), [("1", 1.0), ("2.5", 2.5), (" 45 ", 45.0), ("", DEFAULT_HTTP_TIMEOUT_S)]
)
def test_the_http_timeout_comes_from_avatar_http_timeout(value, seconds):
    assert Settings.from_env({"AVATAR_HTTP_TIMEOUT": value}).http_timeout_s == seconds


def test_without_the_variable_the_timeout_is_the_default():
    assert Settings.from_env({}).http_timeout_s == DEFAULT_HTTP_TIMEOUT_S == 30.0


def test_the_key_base_url_and_data_folder_are_read_and_cleaned(tmp_path):
    settings = Settings.from_env(
        {
            "COMETAPI_KEY": "  sk-abc  ",
            "COMETAPI_BASE_URL": "https://gateway.example/",
            "AVATAR_DATA_DIR": str(tmp_path),
        }
    )
    assert settings.api_key is not None and settings.api_key.reveal() == "sk-abc"
    assert settings.base_url == "https://gateway.example"
    assert settings.data_dir == tmp_path and not settings.demo_mode
    assert Settings.from_env({}).demo_mode


def test_on_spaces_with_persistent_storage_the_data_lives_there(tmp_path):
    storage = tmp_path / "data"
    storage.mkdir()
    settings = Settings.from_env({"SPACE_ID": "someone/avatar"}, spaces_storage=storage)
    assert settings.data_dir == storage / "avatar-studio"
    assert not settings.data_is_ephemeral


def test_on_spaces_without_persistent_storage_the_page_is_told(tmp_path):
    settings = Settings.from_env({"SPACE_ID": "someone/avatar"}, spaces_storage=tmp_path / "no")
    assert settings.data_dir == Path("data") and settings.data_is_ephemeral


def test_an_explicit_data_folder_wins_on_spaces_too(tmp_path):
    storage = tmp_path / "data"
    storage.mkdir()
    env = {"SPACE_ID": "someone/avatar", "AVATAR_DATA_DIR": str(tmp_path / "mine")}
    settings = Settings.from_env(env, spaces_storage=storage)
    assert settings.data_dir == tmp_path / "mine" and not settings.data_is_ephemeral


def test_off_spaces_the_default_folder_is_kept():
    settings = Settings.from_env({})
    assert settings.data_dir == Path("data") and not settings.data_is_ephemeral


def test_a_create_waits_120_s_and_a_task_is_followed_for_an_hour_by_default():
    settings = Settings.from_env({})
    assert settings.create_timeout_s == DEFAULT_CREATE_TIMEOUT_S == 120.0
    assert settings.follow_deadline_s == DEFAULT_FOLLOW_DEADLINE_S == 3600.0


@pytest.mark.parametrize(("value", "create", "follow"), [("45", 45.0, 45.0), ("", 120.0, 3600.0)])
def test_the_create_timeout_and_the_follow_deadline_come_from_the_environment(
    value, create, follow
):
    settings = Settings.from_env({"AVATAR_CREATE_TIMEOUT": value, "AVATAR_FOLLOW_DEADLINE": value})
    assert (settings.create_timeout_s, settings.follow_deadline_s) == (create, follow)


def test_prices_default_to_the_assumed_list_prices():
    assert Settings.from_env({}).prices == {"std": 0.056, "pro": 0.112}


@pytest.mark.parametrize(("value", "price"), [("0.07", 0.07), (" 0.2 ", 0.2), ("", 0.056)])
def test_the_operator_sets_prices_with_avatar_price_std_and_pro(value, price):
    settings = Settings.from_env({"AVATAR_PRICE_STD": value, "AVATAR_PRICE_PRO": "0.3"})
    assert settings.prices == {"std": price, "pro": 0.3}


def test_the_limits_on_visitors_come_from_the_environment():
    default = Settings.from_env({})
    assert (default.max_active_per_visitor, default.max_daily_per_visitor) == (2, 10)
    assert default.max_daily_video_seconds == 0 and not default.shared_history
    assert Settings() == default.with_key(None)  # the dataclass has the documented defaults
    settings = Settings.from_env(
        {
            "AVATAR_MAX_ACTIVE_PER_VISITOR": "0",
            "AVATAR_MAX_DAILY_PER_VISITOR": " 25 ",
            "AVATAR_MAX_DAILY_VIDEO_SECONDS": "3600",
            "AVATAR_SHARED_HISTORY": "1",
            "AVATAR_MAX_DAILY_PER_ADDRESS": "40",
        }
    )
    assert (settings.max_active_per_visitor, settings.max_daily_per_visitor) == (0, 25)
    assert (default.max_daily_per_address, settings.max_daily_per_address) == (0, 40)
    assert settings.max_daily_video_seconds == 3600 and settings.shared_history


def test_the_tasks_at_once_on_an_account_are_learnt_unless_avatar_max_running_tasks_says():
    assert Settings.from_env({}).max_running_tasks == 0  # learnt from the provider's 1303
    assert Settings.from_env({"AVATAR_MAX_RUNNING_TASKS": " 3 "}).max_running_tasks == 3


# --- every setting is read strictly (a typo never means "no limit") -------------------------

LIMIT_TYPOS = ["1O0", "-5", "ten", "1,000", "nan", "100s", "1e3", "2.5", "+5", "1_000", "١٢"]


@pytest.mark.parametrize("value", LIMIT_TYPOS)
def test_a_mistyped_daily_seconds_limit_is_refused_in_one_sentence(value):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"AVATAR_MAX_DAILY_VIDEO_SECONDS": value})
    assert str(refused.value) == (
        f"AVATAR_MAX_DAILY_VIDEO_SECONDS={value}: not a whole number of seconds; "
        "write e.g. 600, or 0 for no limit."
    )
    assert refused.value.in_language("zh").startswith(f"AVATAR_MAX_DAILY_VIDEO_SECONDS={value}：")


@pytest.mark.parametrize(
    "name",
    ["AVATAR_MAX_ACTIVE_PER_VISITOR", "AVATAR_MAX_DAILY_PER_VISITOR", "AVATAR_MAX_IN_LINE",
     "AVATAR_MAX_DAILY_PER_ADDRESS", "AVATAR_MAX_RUNNING_TASKS", "AVATAR_MAX_SPEECH_SECONDS",
     "AVATAR_KEEP_DAYS"],
)  # fmt: skip
@pytest.mark.parametrize("value", ["1e3", "-1", "many", "2.5", "10 videos"])
def test_every_whole_number_setting_refuses_what_is_not_one(name, value):
    with pytest.raises(SettingsError, match=rf"^{name}={re.escape(value)}: not a whole number"):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [("AVATAR_HTTP_TIMEOUT", "soon", "not a number of seconds above 0"),
     ("AVATAR_HTTP_TIMEOUT", "0", "not a number of seconds above 0"),
     ("AVATAR_CREATE_TIMEOUT", "-3", "not a number of seconds above 0"),
     ("AVATAR_FOLLOW_DEADLINE", "1h", "not a number of seconds above 0"),
     ("AVATAR_DEMO_TASK_SECONDS", "inf", "not a number of seconds (0 or more)"),
     ("AVATAR_MAX_QUERIES_PER_S", "0", "not a number of requests a second above 0"),
     ("AVATAR_PRICE_STD", "cheap", "not a price in US dollars"),
     ("AVATAR_PRICE_PRO", "0", "not a price in US dollars"),
     ("AVATAR_PRICE_PRO", "1e-2", "not a price in US dollars"),
     ("AVATAR_MAX_SPEECH_SECONDS", "0", "not a whole number of seconds above 0"),
     ("COMETAPI_BASE_URL", "api.cometapi.com", "not a web address"),
     ("KLING_BASE_URL", "ftp://api-beijing.klingai.com", "not a web address"),
     ("AVATAR_PUBLIC_URL", "https://", "not a web address"),
     ("AVATAR_PUBLIC_URL", "https://host:port", "not a web address")],
)  # fmt: skip
def test_every_number_and_address_is_read_strictly(name, value, rule):
    with pytest.raises(SettingsError, match=rf"^{name}={re.escape(value)}: {re.escape(rule)}"):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), ("YES", True), (" On ", True), ("0", False),
     ("False", False), ("no", False), ("OFF", False), ("", None)],
)  # fmt: skip
@pytest.mark.parametrize(
    ("name", "default"),
    [("GRADIO_MCP_SERVER", True), ("AVATAR_SHARED_HISTORY", False),
     ("AVATAR_ALLOW_PRIVATE_URLS", False)],
)  # fmt: skip
def test_switches_read_the_usual_spellings(name, default, value, on):
    settings = Settings.from_env({name: value})
    read = {
        "GRADIO_MCP_SERVER": settings.mcp_server,
        "AVATAR_SHARED_HISTORY": settings.shared_history,
        "AVATAR_ALLOW_PRIVATE_URLS": settings.allow_private_urls,
    }
    assert read[name] is (default if on is None else on)


@pytest.mark.parametrize("value", ["2", "enabled", "y", "nope", "tru"])
def test_a_switch_that_is_neither_on_nor_off_is_refused(value):
    with pytest.raises(SettingsError, match=r"^GRADIO_MCP_SERVER=.*: neither on nor off; write 1,"):
        Settings.from_env({"GRADIO_MCP_SERVER": value})


@pytest.mark.parametrize("name", ["COMETAPI_KEY", "KLING_ACCESS_KEY"])
def test_a_key_with_characters_no_key_has_is_refused_without_repeating_it(name):
    env = {name: "sk-clé-secrète", "KLING_SECRET_KEY": "s"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(f"{name} holds characters no API key has")
    assert "clé" not in str(refused.value) + refused.value.in_language("zh")


def test_a_refused_value_is_shown_escaped_and_cut_short():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"AVATAR_MAX_IN_LINE": "1\x1b[31m" + "9" * 200})
    assert "\x1b" not in str(refused.value) and "\\x1b" in str(refused.value)
    assert len(str(refused.value)) < 200


def test_the_speech_length_and_the_days_a_video_is_kept_have_their_documented_defaults():
    demo, keyed = Settings.from_env({}), Settings.from_env({"COMETAPI_KEY": "sk-x"})
    assert (demo.max_speech_seconds, keyed.max_speech_seconds) == (600, 600)
    assert (demo.keep_days, keyed.keep_days) == (7, 0)
    kling = Settings.from_env({"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": "b"})
    assert kling.keep_days == 0
    env = {"AVATAR_MAX_SPEECH_SECONDS": "90", "AVATAR_KEEP_DAYS": "0"}
    assert (Settings.from_env(env).max_speech_seconds, Settings.from_env(env).keep_days) == (90, 0)


def test_the_limits_in_force_name_each_variable_and_its_value():
    settings = Settings.from_env({"AVATAR_MAX_DAILY_VIDEO_SECONDS": "600", "COMETAPI_KEY": "k"})
    listed = [str(line) for line in limits_in_force(settings)]
    assert "  AVATAR_MAX_DAILY_VIDEO_SECONDS=600: seconds of voice a day" in "\n".join(listed)
    assert any(line.startswith("  AVATAR_KEEP_DAYS=0:") for line in listed)
    assert all(line.in_language("zh") for line in limits_in_force(settings))


def _env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AVATAR_", "COMETAPI_"))}
    return clean | {"AVATAR_DATA_DIR": str(tmp_path / "data"), "GRADIO_SERVER_PORT": "7999", **env}


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=_env(env, tmp_path),
        cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


def _run_child(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """The command line's `main(argv)` in a forked child (tests/cli_children.py): its own
    environment, read as `python -m avatar_core` reads it."""
    from cli_children import run_cli_child

    return run_cli_child(*args, env=_env(env, tmp_path))


SENTENCE = (
    "AVATAR_MAX_DAILY_VIDEO_SECONDS=1O0: not a whole number of seconds; write e.g. 600, "
    "or 0 for no limit."
)


def test_the_app_does_not_start_on_a_setting_it_cannot_read(tmp_path):
    ran = _run(["app.py"], {"AVATAR_MAX_DAILY_VIDEO_SECONDS": "1O0"}, tmp_path)
    assert ran.returncode == 2
    assert ran.stderr.strip() == SENTENCE  # one sentence: no traceback, nothing served
    assert "Running on" not in ran.stdout + ran.stderr


def test_the_command_line_stops_with_exit_2_on_a_setting_it_cannot_read(tmp_path):
    """Each command reads its settings first (forked children); the Chinese sentence from
    a real `python -m avatar_core` start."""
    env = {"AVATAR_MAX_DAILY_VIDEO_SECONDS": "1O0", "LANG": "C.UTF-8", "LC_ALL": ""}
    for command in (["check", "--image", "x.png", "--audio", "y.wav"], ["doctor"], ["resume"]):
        ran = _run_child(command, env, tmp_path)
        assert (ran.returncode, ran.stderr.strip()) == (2, SENTENCE), command
    chinese = _run(["-m", "avatar_core", "doctor"], {**env, "LC_ALL": "zh_CN.UTF-8"}, tmp_path)
    assert chinese.returncode == 2 and "不是整秒数" in chinese.stderr


def test_doctor_lists_the_limits_in_force(tmp_path):
    env = {"AVATAR_MAX_DAILY_PER_ADDRESS": "40", "GRADIO_MCP_SERVER": "off"}
    ran = _run_child(["doctor"], env, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "limits in force (0: no limit):" in ran.stdout
    assert "  AVATAR_MAX_DAILY_PER_ADDRESS=40: videos and speeches a day" in ran.stdout
    assert "  AVATAR_MAX_DAILY_PER_VISITOR=10:" in ran.stdout
    assert "  AVATAR_KEEP_DAYS=7:" in ran.stdout and "  GRADIO_MCP_SERVER=0:" in ran.stdout


@pytest.mark.parametrize("pasted", ["sk-clé", "sk abc", "sk-\u200babc", "密钥"])
def test_a_pasted_key_no_header_could_carry_is_refused_in_one_sentence(pasted):
    with pytest.raises(SettingsError, match=r"^An API key is made of letters, digits"):
        Settings.from_env({}).with_key(pasted)
