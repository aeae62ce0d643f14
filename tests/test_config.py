"""The environment is read once, into Settings; what it says is passed down from there."""

from __future__ import annotations

import pytest

from avatar_core.config import DEFAULT_HTTP_TIMEOUT_S, Settings


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
