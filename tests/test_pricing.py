"""The cost estimate shown before Generate: seconds of voice times the mode's price."""

from __future__ import annotations

import pytest

from avatar_core.jobs.pricing import (
    PRICE_PER_SECOND,
    estimate_cost,
    format_money,
    format_rate,
)


def test_every_mode_the_app_offers_has_a_price():
    assert set(PRICE_PER_SECOND) == {"std", "pro"}
    assert all(price > 0 for price in PRICE_PER_SECOND.values())


def test_the_assumed_prices_are_the_public_list_prices():
    assert PRICE_PER_SECOND == {"std": 0.056, "pro": 0.112}
    assert estimate_cost(10.0, "std").total == pytest.approx(0.56)


def test_the_estimate_uses_the_prices_it_is_given():
    estimate = estimate_cost(10.0, "pro", {"std": 0.05, "pro": 0.2})
    assert estimate is not None and estimate.total == pytest.approx(2.0)
    assert estimate_cost(10.0, "pro", {"std": 0.05}) is None


def test_the_estimate_is_seconds_times_the_modes_price():
    estimate = estimate_cost(10.0, "pro")
    assert estimate is not None
    assert estimate.total == pytest.approx(10.0 * PRICE_PER_SECOND["pro"])
    assert estimate.price_per_second == PRICE_PER_SECOND["pro"]


def test_professional_costs_more_than_standard_for_the_same_voice():
    std, pro = estimate_cost(7.5, "std"), estimate_cost(7.5, "pro")
    assert std is not None and pro is not None
    assert pro.total > std.total


@pytest.mark.parametrize(("seconds", "mode"), [(None, "std"), (0.0, "std"), (5.0, "turbo")])
def test_no_estimate_without_a_length_or_a_known_mode(seconds, mode):
    assert estimate_cost(seconds, mode) is None


def test_money_and_rates_read_as_people_write_them():
    assert format_money(0.3125) == "$0.31"
    assert format_money(0.001) == "<$0.01"
    assert format_rate(0.06) == "$0.06/s"
    assert format_rate(0.0562) == "$0.0562/s"
