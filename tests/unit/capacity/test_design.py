"""The load design: every rate varied on its own (VIF < 5), deterministic, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_wecube.capacity.design import MAX_VIF, DesignError, describe, design_schedule, schedule_vif
from airflow_wecube.capacity.ols import vif

RANGES = {"open_rate": [10, 100], "close_rate": [10, 80], "transfer_rate": [5, 60]}


@pytest.mark.parametrize("steps", [6, 7, 8, 10, 12])
@pytest.mark.parametrize("seed", [0, 1, 2, 42])
def test_no_two_rates_collinear(steps, seed):
    schedule = design_schedule(RANGES, steps, seed=seed)
    assert len(schedule) == steps
    assert all(v < MAX_VIF for v in schedule_vif(schedule).values())


def test_latin_each_rate_takes_every_level_once_within_its_range():
    schedule = design_schedule(RANGES, 8, seed=3)
    for name, (low, high) in RANGES.items():
        values = sorted(s[name] for s in schedule)
        assert len(set(values)) == 8 and low < values[0] and values[-1] < high
        gaps = np.diff(values)
        assert np.allclose(gaps, (high - low) / 8, atol=0.01)


def test_same_seed_same_schedule_other_seed_other_order():
    assert design_schedule(RANGES, 8, seed=5) == design_schedule(RANGES, 8, seed=5)
    assert design_schedule(RANGES, 8, seed=5) != design_schedule(RANGES, 8, seed=6)


def test_collinear_rates_are_what_the_vif_catches():
    """The old load (closes a fixed 0.6 of opens) is exactly what the design avoids."""
    opens = np.array([5, 10, 20, 30, 40, 50.0])
    assert vif(np.column_stack([opens, 0.6 * opens]))[0] > 1e6


def test_vif_of_constant_columns():
    """A constant column is the intercept's twin (infinite) and does not inflate the others."""
    opens = np.array([5, 10, 20, 30, 40, 50.0])
    closes = np.array([3, 1, 4, 1, 5, 9.0])
    inf = float("inf")
    assert vif(np.column_stack([opens, np.ones(6)])) == [1.0, inf]
    assert vif(np.column_stack([opens, np.ones(6), closes])) == pytest.approx(
        [vif(np.column_stack([opens, closes]))[0], inf, vif(np.column_stack([opens, closes]))[1]]
    )
    assert vif(np.ones((6, 1))) == [inf] and vif(opens[:, None]) == [1.0]
    assert vif(np.ones((6, 2))) == [inf, inf]
    with pytest.raises(ValueError, match="2-dimensional"):
        vif(opens)


@pytest.mark.parametrize(
    ("ranges", "steps", "message"),
    [
        ({}, 8, "at least one rate range"),
        ({"open_rate": [10, 5]}, 8, "need 0 <= low < high"),
        ({"open_rate": [-1, 5]}, 8, "need 0 <= low < high"),
        ({"open_rate": "fast"}, 8, "a range is [low, high]"),
        (RANGES, 5, "at least 6 steps"),
        ({f"r{i}": [0, 1] for i in range(6)}, 6, "need more than 7 steps"),
    ],
)
def test_bad_input_is_refused(ranges, steps, message):
    with pytest.raises(DesignError, match=message.replace("[", r"\[")):
        design_schedule(ranges, steps)


def test_describe_is_a_markdown_table():
    text = describe(design_schedule(RANGES, 6))
    assert text.splitlines()[0] == "| step | open_rate | close_rate | transfer_rate |"
    assert len(text.splitlines()) == 8
