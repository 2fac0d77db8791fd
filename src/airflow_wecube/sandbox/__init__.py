"""The sandbox: a reference plugin server speaking the WeCube plugin protocol (DESIGN §4).

Run it with ``python -m airflow_wecube.sandbox``; the demo, the tests and the benchmarks call it.
Its plugin packages ship their WeCube ``register.xml`` manifests in this package
(:func:`manifest_paths`), so they register like any other plugin.

Importing this module is cheap (no FastAPI); :func:`create_app` loads the server.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DEFAULT_PORT", "DEFAULT_TOKEN", "create_app", "manifest_paths", "manifests_dir"]

DEFAULT_PORT = 19090
DEFAULT_TOKEN = "sandbox-token"
#: environment variable holding the bearer token when ``--token`` is not given
TOKEN_ENV = "WECUBE_SANDBOX_TOKEN"


def manifests_dir() -> Path:
    """The folder holding the sandbox's ``<package>.register.xml`` files."""
    folder = resources.files(__name__) / "manifests"
    if not isinstance(folder, Path):  # pragma: no cover - only for a zipped install
        raise RuntimeError(f"sandbox manifests are not on the file system ({folder!r}); install the package unzipped")
    return folder


def manifest_paths() -> list[Path]:
    """Every sandbox manifest, sorted by name (``cmdb.register.xml``, ``faults.register.xml``, ...)."""
    return sorted(manifests_dir().glob("*.register.xml"))


def create_app(db_path: str | Path, token: str = DEFAULT_TOKEN) -> FastAPI:
    """The sandbox FastAPI app (see :mod:`airflow_wecube.sandbox.app`)."""
    from airflow_wecube.sandbox.app import create_app as _create

    return _create(db_path, token)
