"""The run options of a deployed account service: the ``deploy`` plugin's inputs, checked, and the
command line of the process that runs them.

Options are stored with the instance (JSON) so that a restart (the sandbox's, or a redeploy of the
same version) runs the app with the same load and costs. Rates are per second, costs CPU
milliseconds per operation (the account service's ``--*-cost-ms``).
"""

from __future__ import annotations

from typing import Any

from airflow_wecube.sandbox.account_service.load import (
    DEFAULT_COSTS,
    DEFAULT_RATES,
    MAX_COST,
    MAX_RATE,
    MAX_WAVE,
    OPERATIONS,
)
from airflow_wecube.sandbox.plugin import EntityError, present

#: largest seconds to wait for a new process's /health (the default is processes.HEALTH_TIMEOUT)
MAX_HEALTH_TIMEOUT = 120.0
#: the slow load wave of a deployed app unless the deploy says otherwise: the demo's history varies
DEPLOY_WAVE = 0.5
#: closes per open of the old single ``rate`` input
LEGACY_CLOSE_RATIO = 0.6

RATE_INPUTS = tuple(f"{op}_rate" for op in OPERATIONS)
COST_INPUTS = tuple(f"{op}_cost" for op in OPERATIONS)

#: what changes the running process, with its default
RUN_DEFAULTS: dict[str, float] = {
    **{f"{op}_rate": DEFAULT_RATES[op] for op in OPERATIONS},
    "wave": DEPLOY_WAVE,
    "error_rate": 0.0,
    **{f"{op}_cost": DEFAULT_COSTS[op] * 1000 for op in OPERATIONS},
}

_BOUNDS: dict[str, tuple[float, float, str]] = {
    **{name: (0.0, MAX_RATE, "per second") for name in RATE_INPUTS},
    "rate": (0.0, MAX_RATE, "opens per second"),
    "wave": (0.0, MAX_WAVE, "(relative amplitude of the slow load wave)"),
    "error_rate": (0.0, 1.0, "(a fraction)"),
    **{name: (0.0, MAX_COST * 1000, "CPU milliseconds") for name in COST_INPUTS},
    "health_timeout": (1.0, MAX_HEALTH_TIMEOUT, "seconds"),
}


def number_input(entity: dict[str, Any], name: str) -> float | None:
    """An optional number input within its bounds; ``None`` when not given."""
    if not present(entity.get(name)):
        return None
    low, high, unit = _BOUNDS[name]
    value = entity[name]
    try:
        if isinstance(value, (bool, dict, list)):
            raise ValueError
        number = float(str(value).strip())
    except ValueError:
        raise EntityError(f"input {name} must be a number ({unit}), got {value!r}") from None
    if not low <= number <= high:  # NaN fails this too
        raise EntityError(f"input {name} must be between {low:g} and {high:g} {unit}, got {number:g}")
    return number


def deploy_options(entity: dict[str, Any]) -> dict[str, float]:
    """The options a ``deploy/app/deploy`` entity gives (only those given).

    ``rate`` is the old single input: ``open_rate`` = rate, ``close_rate`` = 0.6 rate; it cannot
    be combined with ``open_rate`` or ``close_rate``.
    """
    out = {name: v for name in _BOUNDS if name != "rate" and (v := number_input(entity, name)) is not None}
    legacy = number_input(entity, "rate")
    if legacy is not None:
        clash = [name for name in ("open_rate", "close_rate") if name in out]
        if clash:
            raise EntityError(f"give rate (the old single rate) or {' and '.join(clash)}, not both")
        out["open_rate"], out["close_rate"] = legacy, LEGACY_CLOSE_RATIO * legacy
    return out


def run_options(options: dict[str, Any]) -> dict[str, float]:
    """What the process runs with: stored options over the defaults (a stored old ``rate`` converted)."""
    options = dict(options)
    legacy = options.pop("rate", None)
    if legacy is not None:
        options.setdefault("open_rate", legacy)
        options.setdefault("close_rate", LEGACY_CLOSE_RATIO * legacy)
    return {name: float(options.get(name, default)) for name, default in RUN_DEFAULTS.items()}


def service_args(options: dict[str, Any]) -> list[str]:
    """The account service's command-line arguments for ``options``."""
    run = run_options(options)
    args = []
    for name, value in run.items():
        flag = f"--{name.replace('_', '-')}" + ("-ms" if name in COST_INPUTS else "")
        args += [flag, repr(value)]
    return args


__all__ = [
    "COST_INPUTS",
    "DEPLOY_WAVE",
    "MAX_HEALTH_TIMEOUT",
    "RATE_INPUTS",
    "RUN_DEFAULTS",
    "deploy_options",
    "number_input",
    "run_options",
    "service_args",
]
