"""Capacity modelling: regress a resource metric on business volume, gate it, watch it drift.

Pure Python (pandas, statsmodels, scikit-learn, matplotlib): no Airflow import anywhere in this
package, so it is fast to test and reusable outside Airflow. The DAG, operator and CLI wire it to
Prometheus and Airflow. Submodules are imported lazily (``from airflow_wecube.capacity.fit import ...``)
so loading a spec does not load pandas.
"""

from __future__ import annotations

from airflow_wecube.capacity.errors import CapacityError, DatasetError, SpecError, StoreError
from airflow_wecube.capacity.spec import CapacitySpec, load_spec, parse_duration

__all__ = ["CapacityError", "CapacitySpec", "DatasetError", "SpecError", "StoreError", "load_spec", "parse_duration"]
