"""A client of the entity API a CMDB plugin serves (the WeCube platform's contract).

``POST {base}/{pkg}/entities/{entity}/query|create|update|delete`` and ``GET {base}/{pkg}/data-model``,
answered as ``{"status": "OK", "message": "", "data": ...}``. Each package may live behind its own
base URL and session (:class:`Endpoint`); a WeCube gateway routes every package from one. A query
asks for pages (``pageable``) and follows ``pageInfo`` until it has every row. Pure: no Airflow import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from airflow_wecube.datamodel.model import DataModel, DataModelError
from airflow_wecube.exceptions import WeCubeError

#: rows asked for per page of a query
PAGE_SIZE = 5000


class EntityApiError(WeCubeError):
    """The entity API refused a request or could not be reached."""


@dataclass
class Endpoint:
    """Where one package's entity API is: base URL and an authenticated session."""

    base_url: str
    session: requests.Session = field(default_factory=requests.Session)
    timeout: float = 60.0


@dataclass
class EntityApi:
    """The entity API of every package, each reached through ``endpoint(package)``.

    :param endpoint: the :class:`Endpoint` of a package (called once per package)
    :param page_size: rows asked for per page
    """

    endpoint: Callable[[str], Endpoint]
    page_size: int = PAGE_SIZE
    requests: int = 0
    _endpoints: dict[str, Endpoint] = field(default_factory=dict)
    _models: dict[str, DataModel] = field(default_factory=dict)

    @classmethod
    def at(cls, base_url: str, token: str | None = None, **kwargs: Any) -> EntityApi:
        """Every package behind one base URL (a gateway, or the sandbox), with a bearer token."""
        session = requests.Session()
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        endpoint = Endpoint(base_url.rstrip("/"), session)
        return cls(lambda _package: endpoint, **kwargs)

    def _endpoint(self, package: str) -> Endpoint:
        if package not in self._endpoints:
            self._endpoints[package] = self.endpoint(package)
        return self._endpoints[package]

    def _send(self, method: str, package: str, path: str, body: Any = None) -> Any:
        ep = self._endpoint(package)
        url = f"{ep.base_url.rstrip('/')}/{package}/{path}"
        self.requests += 1
        try:
            r = ep.session.request(method, url, json=body, timeout=ep.timeout)
        except requests.RequestException as e:
            raise EntityApiError(f"{method} {url}: {type(e).__name__}: {e}") from None
        try:
            payload = r.json()
        except ValueError:
            raise EntityApiError(f"{method} {url}: HTTP {r.status_code}, not JSON: {r.text[:200]!r}") from None
        if r.status_code >= 400 or not isinstance(payload, dict) or payload.get("status") != "OK":
            message = payload.get("message") if isinstance(payload, dict) else None
            raise EntityApiError(f"{method} {url}: HTTP {r.status_code}: {message or str(payload)[:300]}")
        return payload

    def data_model(self, package: str) -> DataModel:
        """The package's data model (read once per client)."""
        if package not in self._models:
            try:
                payload = self._send("GET", package, "data-model")
            except EntityApiError as e:
                raise DataModelError(f"cannot read the data model of package {package}: {e}") from None
            self._models[package] = DataModel.from_api(package, payload.get("data"))
        return self._models[package]

    def query(self, package: str, entity: str, filters: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """Every row of ``entity`` matching all ``filters`` (``additionalFilters``), page after page."""
        rows: list[dict[str, Any]] = []
        while True:
            body = {
                "criteria": {},
                "additionalFilters": list(filters),
                "pageable": {"startIndex": len(rows), "pageSize": self.page_size},
            }
            payload = self._send("POST", package, f"entities/{entity}/query", body)
            page = payload.get("data") or []
            rows.extend(page)
            total = (payload.get("pageInfo") or {}).get("totalRows")
            if not page or total is None or len(rows) >= int(total):
                return rows

    def page(
        self, package: str, entity: str, filters: list[dict[str, Any]] = (), *, start: int = 0, size: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of rows, and how many match in all (a listing that need not read every row)."""
        body = {"criteria": {}, "additionalFilters": list(filters), "pageable": {"startIndex": start, "pageSize": size}}
        payload = self._send("POST", package, f"entities/{entity}/query", body)
        rows = payload.get("data") or []
        return rows, int((payload.get("pageInfo") or {}).get("totalRows", start + len(rows)))

    def create(self, package: str, entity: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._send("POST", package, f"entities/{entity}/create", items).get("data") or []

    def update(self, package: str, entity: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._send("POST", package, f"entities/{entity}/update", items).get("data") or []

    def delete(self, package: str, entity: str, ids: list[str]) -> list[dict[str, Any]]:
        return self._send("POST", package, f"entities/{entity}/delete", [{"id": i} for i in ids]).get("data") or []


__all__ = ["PAGE_SIZE", "Endpoint", "EntityApi", "EntityApiError"]
