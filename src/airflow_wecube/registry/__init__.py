"""Plugin registry: manifest models, loaders and the on-disk store. No Airflow import."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.models import Interface, Package, Parameter, Plugin, Service, service_name
from airflow_wecube.registry.store import Registry, split_service

__all__ = [
    "Interface",
    "Package",
    "Parameter",
    "Plugin",
    "Registry",
    "Service",
    "default_registry",
    "load_manifest",
    "service_name",
    "split_service",
]


def default_registry(explicit: str | os.PathLike | None = None) -> Registry:
    """The registry at ``explicit``, else where :func:`airflow_wecube.config.registry_path` says."""
    from airflow_wecube.config import registry_path

    return Registry(registry_path(explicit))


def load_manifest(path: str | os.PathLike, *, version: str | None = None, package: str | None = None) -> Package:
    """Load a manifest by its file type: ``.zip`` package, ``.yaml``/``.yml``, else ``register.xml``.

    A YAML or JSON file with a top-level ``openapi:`` key is an OpenAPI 3 document (its operations
    become REST services, docs/openapi.md); ``package`` names it (other manifests carry their name).
    """
    from airflow_wecube.registry.openapi import MAX_OPENAPI_BYTES, is_openapi, load_openapi
    from airflow_wecube.registry.xml import load_register_xml
    from airflow_wecube.registry.yaml_manifest import load_yaml_manifest
    from airflow_wecube.registry.zip_package import MAX_MANIFEST_BYTES, load_package_zip

    p = Path(path)
    if not p.is_file():
        raise ManifestError("no such file", source=str(p))
    if p.suffix.lower() in (".yaml", ".yml", ".json") and p.stat().st_size > MAX_OPENAPI_BYTES:
        raise ManifestError(f"refused: file larger than {MAX_OPENAPI_BYTES} bytes", source=str(p))
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        data = p.read_bytes()
        if p.suffix.lower() == ".json" or is_openapi(data):
            return load_openapi(data, source=str(p), package=package, version=version)
    if package is not None:
        raise ManifestError(
            "--package applies to OpenAPI documents only (this manifest names its package)", source=str(p)
        )
    if p.suffix.lower() == ".zip":
        return load_package_zip(p, version=version)
    if p.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"refused: manifest larger than {MAX_MANIFEST_BYTES} bytes", source=str(p))
    data = p.read_bytes()
    if p.suffix.lower() in (".yaml", ".yml"):
        return load_yaml_manifest(data, source=str(p), version=version)
    return load_register_xml(data, source=str(p), version=version)
