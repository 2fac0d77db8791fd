"""Shared capacity test data: a model whose second fit drifted."""

from __future__ import annotations

import pytest

from airflow_wecube.capacity import pipeline
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore
from tests.unit.capacity.synth import SPEC, make_frame


@pytest.fixture(scope="session")
def drifted(tmp_path_factory):
    store = ModelStore(tmp_path_factory.mktemp("store"))
    spec = load_spec(SPEC)
    pipeline.run(spec, make_frame(), store)
    report = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)
    assert report["drift"]["found"]
    return report
