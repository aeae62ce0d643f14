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


def test_prices_default_to_the_assumed_list_prices():
    assert Settings.from_env({}).prices == {"std": 0.056, "pro": 0.112}


@pytest.mark.parametrize(
    ("value", "price"),
    [("0.07", 0.07), (" 0.2 ", 0.2), ("", 0.056), ("cheap", 0.056), ("0", 0.056), ("-1", 0.056)],
)
def test_the_operator_sets_prices_with_avatar_price_std_and_pro(value, price):
    settings = Settings.from_env({"AVATAR_PRICE_STD": value, "AVATAR_PRICE_PRO": "0.3"})
    assert settings.prices == {"std": price, "pro": 0.3}
