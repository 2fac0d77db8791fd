"""The sandbox FastAPI app: health, call introspection, and one router per plugin package.

The process-wide clean-up is registered here, by :func:`create_app`, not when a module is imported:
:func:`~airflow_wecube.sandbox.processes.stop_all` runs at exit, so the apps the ``deploy`` plugin
started do not outlive an interpreter that built a sandbox (the ``deploy`` package also runs it at
server shutdown, as uvicorn re-raises SIGTERM and would skip :mod:`atexit`).
"""

from __future__ import annotations

import atexit
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Header, HTTPException, Query

from airflow_wecube.registry.models import Package
from airflow_wecube.registry.xml import load_register_xml
from airflow_wecube.sandbox import DEFAULT_TOKEN, idempotency, manifests_dir
from airflow_wecube.sandbox.outages import OUTAGE_SCHEMA
from airflow_wecube.sandbox.plugin import _authorized
from airflow_wecube.sandbox.plugins import cmdb_entities, packages
from airflow_wecube.sandbox.processes import stop_all
from airflow_wecube.sandbox.store import Store

_cleanup_lock = threading.Lock()
_cleanup_registered = False


def register_cleanup() -> None:
    """Stop the deployed apps at interpreter exit; registered once however many apps are built."""
    global _cleanup_registered
    with _cleanup_lock:
        if not _cleanup_registered:
            atexit.register(stop_all)
            _cleanup_registered = True


def load_manifest(package: str) -> Package:
    """The shipped ``register.xml`` of one sandbox package."""
    path = manifests_dir() / f"{package}.register.xml"
    return load_register_xml(path.read_bytes(), source=str(path))


def create_app(db_path: str | Path, token: str = DEFAULT_TOKEN) -> FastAPI:
    """Build the app; creates the SQLite tables at ``db_path``.

    :param db_path: the SQLite file holding the plugins' state and the calls received
    :param token: the bearer token every plugin endpoint and ``/sandbox/calls`` require
    :raises RuntimeError: when a served interface is not declared, at the same path, in its manifest
    """
    if not token:
        raise ValueError("the sandbox needs a non-empty token")
    plugin_packages = packages()
    register_cleanup()
    store = Store(
        db_path, schemas=[idempotency.SCHEMA, OUTAGE_SCHEMA, *(p.schema for p in plugin_packages if p.schema)]
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        store.close()

    app = FastAPI(
        title="WeCube sandbox plugins",
        description="Reference plugin server speaking the WeCube plugin protocol (airflow-provider-wecube).",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.services = {}
    for package in plugin_packages:
        app.include_router(package.router(store, token, load_manifest(package.name)))
        app.state.services.update(package.services())
    app.include_router(cmdb_entities.router(store, token))  # the CMDB's entity API (docs/data-model.md)

    def check(authorization: str | None) -> None:
        denied = _authorized({"authorization": authorization or ""}, token)
        if denied:
            raise HTTPException(status_code=401, detail=denied)

    @app.get("/health", tags=["sandbox"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sandbox/calls", tags=["sandbox"])
    def calls(
        request_id: str | None = Query(default=None, description="only the calls carrying this requestId"),
        authorization: str | None = Header(default=None),
    ) -> list[dict]:
        """Calls received by the plugin endpoints, oldest first: ids, path, every header, inputs."""
        check(authorization)
        return store.calls(request_id)

    @app.get("/sandbox/answers", tags=["sandbox"])
    def answers(
        request_id: str | None = Query(default=None, description="only the records of this requestId"),
        authorization: str | None = Header(default=None),
    ) -> list[dict]:
        """The idempotency records: per service and requestId, running or done, and how often replayed."""
        check(authorization)
        return idempotency.records(store, request_id)

    @app.delete("/sandbox/calls", tags=["sandbox"])
    def clear_calls(authorization: str | None = Header(default=None)) -> dict[str, int]:
        check(authorization)
        return {"deleted": store.clear_calls()}

    @app.post("/sandbox/outages", tags=["sandbox"])
    def outage(body: dict, authorization: str | None = Header(default=None)) -> dict:
        """``{"service": "pkg/plugin/action", "calls": N}``: the next N calls of that service answer HTTP 503,
        as a plugin that is restarting does (a test's way to fail a plugin mid-run)."""
        check(authorization)
        service, calls = body.get("service"), body.get("calls", 1)
        if service not in app.state.services or not isinstance(calls, int) or calls < 0:
            raise HTTPException(status_code=400, detail="give service (one this sandbox serves) and calls >= 0")
        with store.transaction() as db:
            db.execute(
                "INSERT INTO sandbox_outage (service, calls) VALUES (?, ?)"
                " ON CONFLICT (service) DO UPDATE SET calls = excluded.calls",
                (service, calls),
            )
        return {"service": service, "calls": calls}

    @app.get("/sandbox/services", tags=["sandbox"])
    def services() -> dict[str, str]:
        """Every service served, with its path (no secret here, so no auth)."""
        return dict(app.state.services)

    return app
