"""Capacity modelling: regress a resource metric on business volume, gate it, watch it drift.

Pure Python (pandas, statsmodels, scikit-learn, matplotlib), so it is fast to test and reusable
outside Airflow. The one exception is :mod:`airflow_wecube.capacity.airflow`, the wiring to
Prometheus, the store config, notifiers and Assets that the DAG, operator and CLI share: it imports
Airflow only inside its functions, and nothing here imports it, so the package loads without
Airflow. Submodules are imported lazily (``from airflow_wecube.capacity.fit import ...``) so loading
a spec does not load pandas.
"""

from __future__ import annotations

from airflow_wecube.capacity.errors import CapacityError, DatasetError, SpecError, StoreError
from airflow_wecube.capacity.spec import CapacitySpec, load_spec

__all__ = ["CapacityError", "CapacitySpec", "DatasetError", "SpecError", "StoreError", "load_spec"]
