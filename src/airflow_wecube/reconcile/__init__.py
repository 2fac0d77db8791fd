"""Reconcile: keep reality equal to the design (docs/reconcile.md).

Pure (no Airflow): :mod:`.differences` compares the design, the CMDB record and what the owning
plugin reports into rows of class ``missing | changed | extra | stale_record``; :mod:`.strategies`
reads ``dags/designs/strategies.yml`` (kind x class -> action); :mod:`.plan` decides, under the
guard rails, what acts, what a person is asked and what is left; :mod:`.execute` applies a plan as
one batched plugin call per kind and action; :mod:`.capacity` turns the capacity model into an
app's instance count. The Airflow side is :mod:`airflow_wecube.orchestrations.reconcile`.
"""

from airflow_wecube.reconcile.differences import CHANGED, CLASSES, EXTRA, MISSING, OK, STALE_RECORD

__all__ = ["CHANGED", "CLASSES", "EXTRA", "MISSING", "OK", "STALE_RECORD"]
