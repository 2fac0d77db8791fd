"""Input validation against an interface's parameters (pure, no server)."""

from __future__ import annotations

import pytest

from airflow_wecube.exceptions import ParameterValidationError
from airflow_wecube.protocol.validation import normalise_inputs, validate_inputs
from airflow_wecube.registry.models import Interface, Parameter, Service

SERVICE = Service(
    name="p/x/run",
    package="p",
    version="1",
    plugin="x",
    interface=Interface(action="run", path="/run", inputs=(Parameter(name="host", required=True),)),
)


class CountingId(str):
    """A callbackParameter that counts how often it is compared with another one."""

    comparisons = 0

    def __eq__(self, other):
        CountingId.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_duplicate_callback_parameters_are_all_reported_once_each():
    inputs = normalise_inputs([{"callbackParameter": c, "host": "h"} for c in ("b", "a", "b", "c", "a", "b")])
    with pytest.raises(ParameterValidationError) as e:
        validate_inputs(SERVICE, inputs)
    assert e.value.problems == ["callbackParameter not unique: a, b"]


def test_index_and_explicit_callback_parameters_can_collide():
    inputs = normalise_inputs([{"host": "h"}, {"callbackParameter": "0", "host": "h"}])
    with pytest.raises(ParameterValidationError, match="callbackParameter not unique: 0"):
        validate_inputs(SERVICE, inputs)


def test_unique_check_is_linear_in_the_number_of_entities():
    """100,000 entities took 91 s when each callbackParameter was counted in the whole list."""
    n = 3000
    CountingId.comparisons = 0
    validate_inputs(SERVICE, [{"callbackParameter": CountingId(i), "host": "h"} for i in range(n)])
    assert CountingId.comparisons <= 2 * n  # the quadratic check compared n * n = 9,000,000 times


def test_many_entities_problems_still_name_each_entity():
    inputs = normalise_inputs([{"host": "h"}] * 5 + [{}] + [{"host": "h", "colour": "red"}])
    with pytest.raises(ParameterValidationError) as e:
        validate_inputs(SERVICE, inputs)
    assert e.value.problems == [
        "entity 5: missing required host",
        "entity 6: unknown parameter(s) colour (declared: host)",
    ]
