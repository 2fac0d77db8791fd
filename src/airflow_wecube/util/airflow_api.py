"""A small client for Airflow 3's public REST API (token login, runs, task instances, HITL requests).

Used by ``wecube approvals list``, the end-to-end tests and the benchmarks. No Airflow import: it talks
HTTP only, so it works against any Airflow 3 deployment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from airflow_wecube.exceptions import WeCubeError

ENV_URL = "WECUBE_AIRFLOW_URL"
ENV_USER = "WECUBE_AIRFLOW_USER"
ENV_PASSWORD = "WECUBE_AIRFLOW_PASSWORD"


class AirflowAPIError(WeCubeError):
    """An Airflow REST call answered with an error status (``status`` and ``detail`` say which)."""

    def __init__(self, method: str, path: str, status: int, detail: Any):
        self.status = status
        self.detail = detail
        super().__init__(f"{method} {path} -> HTTP {status}: {detail}")


def _q(value: str) -> str:
    return quote(str(value), safe="~")


class AirflowClient:
    """
    Airflow REST API client authenticated with a JWT from ``POST /auth/token``.

    :param url: Airflow API server base URL, e.g. ``http://localhost:8080``.
    :param username: user to log in as (the token carries who answers an approval).
    :param password: that user's password; never logged or shown in errors.
    :param timeout: seconds per HTTP call (generous: a busy SQLite-backed API server can take a while).
    """

    def __init__(self, url: str, username: str, password: str, *, timeout: float = 60.0):
        if not url:
            raise WeCubeError("Airflow API URL is empty")
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self._token: str | None = None
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    @classmethod
    def from_env(
        cls, url: str | None = None, username: str | None = None, password: str | None = None
    ) -> AirflowClient:
        """Build from arguments, falling back to ``WECUBE_AIRFLOW_URL`` / ``_USER`` / ``_PASSWORD``."""
        url = url or os.environ.get(ENV_URL)
        username = username or os.environ.get(ENV_USER)
        password = password if password is not None else os.environ.get(ENV_PASSWORD)
        missing = [n for n, v in ((ENV_URL, url), (ENV_USER, username), (ENV_PASSWORD, password)) if not v]
        if missing:
            raise WeCubeError(f"Airflow API access not configured: set {', '.join(missing)} or pass the options")
        return cls(url, username, password)  # type: ignore[arg-type]

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ plumbing

    def token(self, *, refresh: bool = False) -> str:
        if self._token is None or refresh:
            try:
                r = self._http.post("/auth/token", json={"username": self.username, "password": self._password})
            except httpx.HTTPError as e:
                raise WeCubeError(f"cannot reach Airflow at {self.url}: {e}") from None
            if r.status_code not in (200, 201):
                raise AirflowAPIError("POST", "/auth/token", r.status_code, f"login as {self.username!r} refused")
            self._token = r.json()["access_token"]
        return self._token

    #: waits before retrying a request the API server refused with its "Database error" (HTTP 500)
    db_error_backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """Call ``path`` with the bearer token; raise ``AirflowAPIError`` unless the status is expected.

        Logs in again once on 401. An HTTP 500 "Database error" (on SQLite: "database is locked" while
        the scheduler writes) rolled its transaction back, so the request is sent again, a few times.
        """
        refreshed = False
        waits = iter(self.db_error_backoff)
        while True:
            headers = {"Authorization": f"Bearer {self.token(refresh=refreshed)}"}
            try:
                r = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as e:
                raise WeCubeError(f"cannot reach Airflow at {self.url}: {e}") from None
            if r.status_code == 401 and not refreshed:
                refreshed = True
                continue
            if r.status_code == 500 and b"Database error" in r.content:
                wait = next(waits, None)
                if wait is not None:
                    time.sleep(wait)
                    continue
            break
        if r.status_code not in expect:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise AirflowAPIError(method, path, r.status_code, detail)
        return r.json() if r.content else None

    def _paged(self, path: str, key: str, params: Mapping[str, Any], page: int = 100) -> Iterator[dict]:
        offset = 0
        while True:
            data = self.request("GET", path, params={**params, "limit": page, "offset": offset})
            items = data.get(key) or []
            yield from items
            offset += len(items)
            if not items or offset >= data.get("total_entries", 0):
                return

    # ------------------------------------------------------------------ DAGs and runs

    def get_dag(self, dag_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{_q(dag_id)}")

    def unpause(self, dag_id: str) -> dict:
        return self.request("PATCH", f"/api/v2/dags/{_q(dag_id)}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None) -> dict:
        """Trigger a run now (``logical_date`` null, so several runs may start at once)."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", json=body)

    def get_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        """Task instances of a run keyed by ``task_id`` (``task_id[map_index]`` when mapped)."""
        out = {}
        for ti in self._paged(f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", "task_instances", {}):
            key = ti["task_id"] if ti.get("map_index", -1) == -1 else f"{ti['task_id']}[{ti['map_index']}]"
            out[key] = ti
        return out

    def get_task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        if map_index != -1:
            path += f"/{map_index}"
        return self.request("GET", path)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/xcomEntries/{_q(key)}"
        return self.request("GET", path, params={"map_index": map_index, "deserialize": True})["value"]

    def set_variable(self, key: str, value: str) -> None:
        """Create or overwrite an Airflow Variable."""
        try:
            self.request("PATCH", f"/api/v2/variables/{_q(key)}", json={"key": key, "value": value})
        except AirflowAPIError as e:
            if e.status != 404:
                raise
            self.request("POST", "/api/v2/variables", json={"key": key, "value": value}, expect=(200, 201))

    # ------------------------------------------------------------------ assets

    #: waits between tries of :meth:`asset_events` when Airflow answers 500 (see there)
    asset_events_backoff: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)

    def asset_events(self, **params: Any) -> list[dict]:
        """``GET /api/v2/assets/events`` (``asset_id``, ``limit``, ``order_by``, ...): the events.

        Airflow 3.3.2 answers 500 while any listed event has created a run that has not started yet
        (``DagRunAssetReference.start_date`` is required: apache/airflow#71360, fixed by #71379): the
        moment right after an alert starts a runbook. Asked again, it answers once the run started.
        """
        waits = iter(self.asset_events_backoff)
        while True:
            try:
                return self.request("GET", "/api/v2/assets/events", params=params)["asset_events"]
            except AirflowAPIError as e:
                wait = next(waits, None)
                if e.status != 500 or wait is None:
                    raise
                time.sleep(wait)

    # ------------------------------------------------------------------ human-in-the-loop

    def hitl_details(self, *, pending: bool | None = True, dag_id: str = "~", run_id: str = "~") -> list[dict]:
        """HITL requests (``pending``: only those without a response) across DAGs/runs by default."""
        params: dict[str, Any] = {"order_by": "created_at"}
        if pending is not None:
            params["response_received"] = str(not pending).lower()
        return list(self._paged(f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/hitlDetails", "hitl_details", params))

    def get_hitl_detail(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
        return self.request(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/{map_index}/hitlDetails"
        )

    def respond(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        option: str | list[str],
        params_input: Mapping[str, Any] | None = None,
        *,
        map_index: int = -1,
    ) -> dict:
        """
        Answer a HITL request as this client's user.

        Raises ``AirflowAPIError`` with ``status`` 403 (not an assigned approver), 409 (already
        answered; an ApprovalSensor re-opens it shortly if more answers are needed), 404 or 400.
        """
        chosen = [option] if isinstance(option, str) else list(option)
        return self.request(
            "PATCH",
            f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/{map_index}/hitlDetails",
            json={"chosen_options": chosen, "params_input": dict(params_input or {})},
        )
