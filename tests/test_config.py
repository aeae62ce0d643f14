"""The environment is read once, into Settings; what it says is passed down from there."""

from __future__ import annotations

from pathlib import Path

import pytest

from avatar_core.config import (
    DEFAULT_CREATE_TIMEOUT_S,
    DEFAULT_FOLLOW_DEADLINE_S,
    DEFAULT_HTTP_TIMEOUT_S,
    Settings,
)
from avatar_core.jobs.studio import DEFAULT_DEADLINE_S


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("2.5", 2.5), ("", DEFAULT_HTTP_TIMEOUT_S), ("soon", DEFAULT_HTTP_TIMEOUT_S),
     ("-3", DEFAULT_HTTP_TIMEOUT_S), ("0", DEFAULT_HTTP_TIMEOUT_S)],
)  # fmt: skip
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
    assert settings.follow_deadline_s == DEFAULT_DEADLINE_S  # the studio's default


@pytest.mark.parametrize(
    ("value", "create", "follow"),
    [("45", 45.0, 45.0), ("", 120.0, 3600.0), ("later", 120.0, 3600.0), ("0", 120.0, 3600.0)],
)
def test_the_create_timeout_and_the_follow_deadline_come_from_the_environment(
    value, create, follow
):
    settings = Settings.from_env({"AVATAR_CREATE_TIMEOUT": value, "AVATAR_FOLLOW_DEADLINE": value})
    assert (settings.create_timeout_s, settings.follow_deadline_s) == (create, follow)


def test_prices_default_to_the_assumed_list_prices():
    assert Settings.from_env({}).prices == {"std": 0.056, "pro": 0.112}


@pytest.mark.parametrize(
    ("value", "price"),
    [("0.07", 0.07), (" 0.2 ", 0.2), ("", 0.056), ("cheap", 0.056), ("0", 0.056), ("-1", 0.056)],
)
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


@pytest.mark.parametrize("value", ["many", "-1", "2.5"])
def test_a_limit_that_is_not_a_whole_number_keeps_its_default(value):
    assert Settings.from_env({"AVATAR_MAX_DAILY_PER_VISITOR": value}).max_daily_per_visitor == 10


def test_the_tasks_at_once_on_an_account_are_learnt_unless_avatar_max_running_tasks_says():
    assert Settings.from_env({}).max_running_tasks == 0  # learnt from the provider's 1303
    assert Settings.from_env({"AVATAR_MAX_RUNNING_TASKS": " 3 "}).max_running_tasks == 3
    assert Settings.from_env({"AVATAR_MAX_RUNNING_TASKS": "lots"}).max_running_tasks == 0
