"""Compatibility: workarounds of Airflow bugs (each says when it can be removed) and old import paths.

``settle`` and ``hitl_settle``: a parked task is never resumed before its worker's exit was seen
(apache/airflow#67287). ``aliases``: the module paths before the regrouping of issue 26, for a release.
"""
