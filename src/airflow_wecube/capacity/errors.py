"""Errors of the capacity package (subclasses of :class:`WeCubeError`, no Airflow import)."""

from __future__ import annotations

from airflow_wecube.exceptions import WeCubeError


class CapacityError(WeCubeError):
    """Base class of capacity modelling errors."""


class SpecError(CapacityError):
    """A model spec is not valid; nothing was fitted."""


class DatasetError(CapacityError):
    """The fetched data cannot be fitted (missing column, constant feature, too few rows)."""


class StoreError(CapacityError):
    """The model store refused an operation or is corrupt."""


class GateRefusal(StoreError):
    """A version was refused as the baseline because its gates did not pass (nothing changed)."""
