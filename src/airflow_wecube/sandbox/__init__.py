"""The sandbox: a reference plugin server speaking the WeCube plugin protocol (docs/protocol.md).

Run it with ``python -m airflow_wecube.sandbox``; the demo, the tests and the benchmarks call it.
Its plugin packages ship their WeCube ``register.xml`` manifests in this package
(:func:`manifest_paths`), so they register like any other plugin.

Importing this module is cheap (no FastAPI); :func:`create_app` loads the server. The sandbox
needs the ``sandbox`` extra (``pip install 'airflow-provider-wecube[sandbox]'``): without it,
importing this package raises :class:`ImportError` naming the extra and what is missing.
"""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DEFAULT_PORT", "DEFAULT_TOKEN", "EXTRA", "create_app", "manifest_paths", "manifests_dir"]

#: the pip extra holding what only the sandbox needs, and the modules it provides
EXTRA = "sandbox"
EXTRA_MODULES = ("prometheus_client", "fastapi", "uvicorn")


def _require_extra() -> None:
    """Refuse, at import, a sandbox whose extra is not installed (rather than fail mid-request)."""
    missing = [name for name in EXTRA_MODULES if find_spec(name) is None]
    if missing:
        raise ImportError(
            f"airflow_wecube.sandbox needs the {EXTRA!r} extra, which is not installed (missing: {', '.join(missing)});"
            f" install it with: pip install 'airflow-provider-wecube[{EXTRA}]'"
            f" (from a checkout: pip install -e '.[{EXTRA}]')",
            name=missing[0],
        )


_require_extra()

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
