"""The steps of the nightly refit (``dags/wecube_capacity_refit.py``) around the store's staging.

A fetch stages its frame in the store; the fit reads it and deletes it only once the new version
is saved, so a retried fit reads the same data. No Airflow here: the DAG's tasks turn
:class:`StagedDataMissing` and a failed gate into task failures, and :class:`NotEnoughData` (no
series yet, or fewer samples than the spec's ``min_samples``: a fresh demo) into a skipped run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_wecube.capacity.errors import CapacityError, StoreError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from airflow_wecube.capacity.spec import CapacitySpec
    from airflow_wecube.capacity.store import ModelStore


class NotEnoughData(CapacityError):
    """Nothing to fit yet: a series has no data in the window, or fewer samples than ``min_samples``.

    Not a failure: the nightly run skips with this reason and the baseline stays.
    """


class StagedDataMissing(StoreError):
    """The fit's staged data is gone: fitted already, or cleared by a later run's fetch."""


def usable_samples(spec: CapacitySpec, frame) -> int:
    """Rows of a fetched frame that a fit keeps: the target and every feature present and finite."""
    import numpy as np

    from airflow_wecube.capacity.spec import TARGET

    columns = [c for c in (TARGET, *spec.features) if c in frame.columns]
    if len(columns) < 1 + len(spec.features):
        return 0
    values = frame[columns].to_numpy(dtype=float)
    return int(np.isfinite(values).all(axis=1).sum())


def fetch_for_fit(
    spec: CapacitySpec, start: datetime, end: datetime, fetch: Callable[[CapacitySpec, datetime, datetime], Any]
):
    """``fetch(spec, start, end)``, refused with :class:`NotEnoughData` when there is nothing to fit yet.

    :raises NotEnoughData: a query returned no series, or the frame has fewer usable samples than
        ``gates.min_samples`` (the message says ``N samples < min_samples (M)``)
    """
    from airflow_wecube.prometheus.errors import PrometheusNoSeriesError

    window = f"between {start.isoformat()} and {end.isoformat()}"
    try:
        frame = fetch(spec, start, end)
    except PrometheusNoSeriesError as e:
        raise NotEnoughData(
            f"{spec.name}: no data {window}: {e}; nothing to fit yet (has the service run in that window?); "
            "skipped, the baseline is unchanged"
        ) from None
    n, needed = usable_samples(spec, frame), spec.gates.min_samples
    if n < needed:
        raise NotEnoughData(
            f"{spec.name}: {n} samples < min_samples ({needed}) {window} at step {spec.step}: too little history "
            "to fit yet; skipped, the baseline is unchanged"
        )
    return frame


def staging_key(run_id: str, map_index: Any) -> str:
    """Where a fetch stages its data for the fit: one file per run and mapped spec."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run_id}-{map_index}")


def stage_frame(store: ModelStore, model: str, frame, run_id: str, map_index: Any) -> tuple[str, list[str]]:
    """Stage a fetched frame for the fit; clear what earlier runs left staged for ``model``.

    A retried fetch overwrites its own frame; the frames of the other specs of this run are kept.
    Returns ``(key, cleared keys)``.
    """
    run = staging_key(run_id, "")
    key = staging_key(run_id, map_index)
    store.write_frame(model, key, frame)
    stale = store.clear_staged(model, keep=lambda k: k.startswith(run))
    return key, stale


def fit_staged(fetched: dict[str, Any], store: ModelStore) -> tuple[dict[str, Any], str]:
    """Fit the staged frame of ``fetched`` (a fetch's result) and save it as a new version.

    Returns ``(fetched + version, one line for the log)``.

    :raises StagedDataMissing: the staged frame is gone (the message says what to do)
    """
    from airflow_wecube.capacity.pipeline import fit_and_save
    from airflow_wecube.capacity.spec import load_spec

    spec = load_spec(Path(fetched["spec_path"]))
    try:
        frame = store.read_frame(spec.name, fetched["key"])
    except StoreError as e:
        raise StagedDataMissing(
            f"{e}: already fitted, or cleared by a later run's fetch; clear this run's fetch task to fetch again"
        ) from e
    version = fit_and_save(spec, frame, store, window=fetched["window"])
    # only now: a failed attempt keeps the data for the retry
    store.delete_frame(spec.name, fetched["key"])
    record = store.load_version(spec.name, version)
    r2 = record["fit"]["r2"]  # null when the target has no variance (the gate fails it)
    line = (
        f"{spec.name}: version {version}: {record['fit']['formula']} "
        f"(R² {'undefined' if r2 is None else format(r2, '.4f')}, n={record['fit']['n']})"
    )
    return {**fetched, "version": version}, line


def gate_failure(fitted: dict[str, Any], store: ModelStore) -> str | None:
    """Gate the fitted version: why it failed (the baseline is kept), else ``None``."""
    from airflow_wecube.capacity.gates import failed_messages
    from airflow_wecube.capacity.pipeline import gate_version
    from airflow_wecube.capacity.spec import load_spec

    spec = load_spec(Path(fitted["spec_path"]))
    gates = gate_version(spec, store, fitted["version"])
    if gates["passed"]:
        return None
    return f"{spec.name} version {fitted['version']} failed its gates, baseline kept: " + "; ".join(
        failed_messages(gates)
    )


__all__ = [
    "NotEnoughData",
    "StagedDataMissing",
    "fetch_for_fit",
    "fit_staged",
    "gate_failure",
    "stage_frame",
    "staging_key",
    "usable_samples",
]
