"""Prometheus hook: PromQL queries, file_sd target registration and rule groups.

The Airflow-facing part only: settings, answers and retries are in :mod:`airflow_wecube.prometheus`.
Importing this module stays light (no pandas, no requests session) so DAG files can import it at
parse time; pandas is imported inside the methods that build frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_wecube.prometheus import file_sd, results, transport
from airflow_wecube.prometheus import rules as rule_files
from airflow_wecube.prometheus.errors import (
    PrometheusConfigError,
    PrometheusError,
    PrometheusNoSeriesError,
    PrometheusQueryError,
    PrometheusRuleError,
)
from airflow_wecube.prometheus.ranges import MAX_POINTS, fetch_in_order, split_range
from airflow_wecube.prometheus.retry import retrying
from airflow_wecube.prometheus.settings import PrometheusSettings
from airflow_wecube.prometheus.times import duration_ms, format_ms, to_ms
from airflow_wecube.util.files import atomic_write_text, lock_dir_beside, locked

if TYPE_CHECKING:
    import pandas as pd
    import requests
    from prometheus_api_client import PrometheusConnect

TimeLike = datetime | int | float | str
StepLike = str | int | float


def _check_promql(promql: Any) -> None:
    if not isinstance(promql, str) or not promql.strip():
        raise PrometheusQueryError(f"PromQL must be a non-empty string, got {promql!r}")


class PrometheusHook(BaseHook):
    """Talk to Prometheus: PromQL queries, file_sd targets and rule groups.

    :param prometheus_conn_id: the ``prometheus`` connection: URL, optional basic auth or bearer
        token, TLS ``verify``, and extras ``file_sd_dir`` / ``rules_dir`` (falling back to
        ``[wecube] file_sd_dir`` / ``rules_dir``) for the folders Prometheus reads.
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "prometheus"
    hook_name = "Prometheus"

    def __init__(self, prometheus_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prometheus_conn_id = prometheus_conn_id

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def settings(self) -> PrometheusSettings:
        """The resolved connection (read once per hook)."""
        return PrometheusSettings.from_connection(self.get_connection(self.prometheus_conn_id))

    @cached_property
    def _session(self) -> requests.Session:
        return transport.make_session(self.settings)

    def get_conn(self) -> PrometheusConnect:
        """A ``prometheus_api_client.PrometheusConnect`` on this connection (shared HTTP session),
        for its helpers; the hook's own methods use the session directly, to read Prometheus's
        status and error body from every answer."""
        from prometheus_api_client import PrometheusConnect

        client = PrometheusConnect(
            url=self.settings.url,
            session=self._session,
            retry=transport.session_retry(),
            headers=dict(self.settings.headers) or None,
            auth=self.settings.auth,
            timeout=self.settings.timeout,
        )
        self._session.mount(client.url, self._session.adapters["http://"])  # it mounted a plain adapter there
        return client

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return transport.request(self._session, self.settings, method, path, **kwargs)

    def _api(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; errors carry Prometheus's message."""
        response = self._request("GET", f"/api/v1/{path}", params=params or None)
        return results.api_data(response.status_code, response.content, path)

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: ask for the build info."""
        try:
            info = self._api("status/buildinfo")
        except PrometheusError as exc:
            return False, str(exc)
        return True, f"Connected to Prometheus {info.get('version', '?')} at {self.settings.url}"

    # -- queries ------------------------------------------------------------------------------

    def query(self, promql: str, at: TimeLike | None = None) -> list[dict[str, Any]]:
        """Instant query.

        :param promql: the PromQL expression
        :param at: evaluation time (datetime or unix seconds); default now
        :return: one dict per series: ``labels``, ``value`` (float), ``timestamp`` (unix seconds)
        """
        _check_promql(promql)
        params = {"query": promql}
        if at is not None:
            params["time"] = format_ms(to_ms(at))
        response = self._request("GET", "/api/v1/query", params=params)
        return results.instant_result(response.status_code, response.content, promql)

    #: chunk requests in flight at once: Prometheus evaluates (and gzips) the next chunks while
    #: this process decodes the previous ones; measured on 2 cores in bench/prometheus.md
    range_concurrency = 4

    def _range_fetch(self, promql: str, start_ms: int, end_ms: int, step: str) -> bytes:
        """One ``/api/v1/query_range`` request on the hook's session (auth, TLS, retries): the body.

        The start/end strings are the exact chunk bounds (milliseconds), not rounded to seconds.
        """
        response = self._request(
            "GET",
            "/api/v1/query_range",
            params={"query": promql, "start": format_ms(start_ms), "end": format_ms(end_ms), "step": step},
        )
        if response.status_code != 200:
            raise results.query_error(response.status_code, response.content, promql)
        return response.content

    def _range_columns_many(
        self, queries: Mapping[str, str], start: TimeLike, end: TimeLike, step: StepLike
    ) -> dict[str, dict[str, tuple]]:
        """``{key: {series name: (timestamps ms int64, values float64)}}``, chunks stitched in order,
        with up to :attr:`range_concurrency` chunk requests in flight
        (:func:`~airflow_wecube.prometheus.ranges.fetch_in_order`)."""
        import numpy as np

        for promql in queries.values():
            _check_promql(promql)
        start_ms, end_ms, step_ms = to_ms(start), to_ms(end), duration_ms(step)
        if end_ms < start_ms:
            raise PrometheusQueryError(f"end ({end}) is before start ({start})")
        chunks = split_range(start_ms, end_ms, step_ms, MAX_POINTS)
        step_s = format_ms(step_ms)
        parts: dict[str, dict[str, list]] = {key: {} for key in queries}

        def fetch(task: tuple[str, int, int]) -> bytes:
            key, cs, ce = task
            return self._range_fetch(queries[key], cs, ce, step_s)

        def add(task: tuple[str, int, int], content: bytes) -> None:
            for name, ts, vals in results.decode_range(content, queries[task[0]]):
                parts[task[0]].setdefault(name, []).append((ts, vals))

        tasks = [(key, cs, ce) for key in queries for cs, ce in chunks]
        fetch_in_order(tasks, fetch, add, self.range_concurrency)
        return {
            key: {
                name: (np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))
                for name, pieces in by_name.items()
            }
            for key, by_name in parts.items()
        }

    def query_range(self, promql: str, start: TimeLike, end: TimeLike, step: StepLike) -> pd.DataFrame:
        """Range query into a frame: UTC ``DatetimeIndex`` named ``timestamp``, one column per series.

        Ranges longer than Prometheus's 11,000 points per series are split on the step grid and
        stitched: every instant once, none missing.

        :param start: first instant (datetime, unix seconds or ISO 8601)
        :param end: last instant (inclusive)
        :param step: seconds or a Prometheus duration (``"15s"``, ``"1m"``)
        """
        columns = self._range_columns_many({"q": promql}, start, end, step)["q"]
        return results.frame({name: columns[name] for name in sorted(columns)})

    def query_range_frame(
        self, queries: Mapping[str, str], start: TimeLike, end: TimeLike, step: StepLike
    ) -> pd.DataFrame:
        """Several range queries into one aligned frame, one column per name.

        Each query must return exactly one series (aggregate it, e.g. ``sum(...)``); instants
        where a query has no sample are NaN.

        :param queries: ``{column name: promql}``
        """
        if not isinstance(queries, Mapping) or not queries:
            raise PrometheusQueryError("queries must be a non-empty mapping of column name to PromQL")
        columns = {}
        fetched = self._range_columns_many(queries, start, end, step)
        for name, promql in queries.items():
            got = fetched[name]
            if not got:
                raise PrometheusNoSeriesError(
                    f"query {name!r} ({promql}) returned 0 series: nothing recorded in that range yet, or its"
                    " selector matches nothing"
                )
            if len(got) != 1:
                shown = ", ".join(sorted(got)[:5]) + (" ..." if len(got) > 5 else "")
                raise PrometheusQueryError(
                    f"query {name!r} ({promql}) returned {len(got)} series, expected exactly 1"
                    + (f": {shown}" if got else "")
                    + "; aggregate it (e.g. sum(...)) or narrow its labels"
                )
            columns[name] = next(iter(got.values()))
        return results.frame(columns)

    async def aquery(self, promql: str, at: TimeLike | None = None) -> list[dict[str, Any]]:
        """Async instant query (for triggers), same result as :meth:`query`."""
        _check_promql(promql)
        settings = PrometheusSettings.from_connection(await self.aget_connection(self.prometheus_conn_id))
        params = {"query": promql}
        if at is not None:
            params["time"] = format_ms(to_ms(at))
        status, content = await transport.aget(settings, "/api/v1/query", params)
        return results.instant_result(status, content, promql)

    # -- targets (file_sd) --------------------------------------------------------------------

    def _folder(self, key: str) -> Path:
        value = getattr(self.settings, key)
        if not value:
            raise PrometheusConfigError(
                f"connection {self.prometheus_conn_id!r} has no extra {key!r} and [wecube] {key} is not set"
            )
        return Path(value)

    @staticmethod
    def _lock_dir() -> str | None:
        """``[wecube] lock_dir``: locks of target and rule files, kept out of the folders Prometheus reads."""
        from airflow_wecube.config import airflow_option

        return airflow_option("lock_dir")

    def active_targets(self) -> list[dict[str, Any]]:
        """``/api/v1/targets`` active targets as Prometheus lists them."""
        return list((self._api("targets", state="active") or {}).get("activeTargets") or [])

    def _listed(self, job: str) -> dict[str, dict[str, Any]]:
        listed = {}
        for t in self.active_targets():
            if (t.get("labels") or {}).get("job") == job:
                listed[(t.get("discoveredLabels") or {}).get("__address__")] = t
        return listed

    def _retrying(self, what: str, fn: Callable[[], Any]) -> Any:
        """:func:`~airflow_wecube.prometheus.retry.retrying` with the connection's ``retry_limit`` / ``retry_delay``."""
        return retrying(what, fn, retries=self.settings.retry_limit, delay=self.settings.retry_delay, log=self.log)

    def wait_for_targets(
        self, job: str, targets: Iterable[str], *, present: bool = True, timeout: float = 60.0
    ) -> None:
        """Wait (bounded) until Prometheus lists all ``targets`` of ``job`` (or none of them)."""
        targets = file_sd.validate_targets(targets)
        deadline = time.monotonic() + timeout
        while True:
            listed = self._retrying(f"listing the targets of job {job!r}", lambda: self._listed(job))
            missing = [t for t in targets if (t in listed) != present]
            if not missing:
                return
            if time.monotonic() >= deadline:
                state = "listed" if present else "gone"
                raise PrometheusError(
                    f"targets {missing} of job {job!r} not {state} in Prometheus's /api/v1/targets "
                    f"after {timeout:.0f}s; "
                    f"the file {file_sd.target_file(self._folder('file_sd_dir'), job)} was written: check that "
                    "Prometheus's file_sd_configs covers it"
                )
            time.sleep(0.5)

    def register_targets(
        self,
        job: str,
        targets: str | Iterable[str],
        labels: Mapping[str, str] | None = None,
        *,
        confirm: bool = True,
        timeout: float = 60.0,
    ) -> list[str]:
        """Add ``targets`` (``host:port``) to the file_sd file of ``job``; idempotent, under a file lock.

        :param labels: labels for these targets (``job`` is set to ``job``)
        :param confirm: wait until ``/api/v1/targets`` lists every target (bounded by ``timeout``); this
            confirms the address only, so the reserved labels (``__scheme__``, ``__metrics_path__``,
            ``__scrape_interval__``, ``__scrape_timeout__``) are checked before the file is written
        :return: the targets that were added or relabelled (empty when all were already there)
        :raises PrometheusConfigError: a bad address or label; nothing was written
        """
        targets = file_sd.validate_targets(targets)
        changed = file_sd.register(self._folder("file_sd_dir"), job, targets, labels, lock_dir=self._lock_dir())
        kept = [t for t in targets if t not in changed]
        self.log.info("job %s: registered %s (already there: %s)", job, changed, kept)
        if confirm:
            self.wait_for_targets(job, targets, present=True, timeout=timeout)
        return changed

    def deregister_targets(
        self, job: str, targets: str | Iterable[str], *, confirm: bool = True, timeout: float = 60.0
    ) -> list[str]:
        """Remove ``targets`` from ``job``'s file_sd file; idempotent, under a file lock.

        :param confirm: wait until ``/api/v1/targets`` no longer lists them
        :return: the targets that were removed
        """
        targets = file_sd.validate_targets(targets)
        removed = file_sd.deregister(self._folder("file_sd_dir"), job, targets, lock_dir=self._lock_dir())
        absent = [t for t in targets if t not in removed]
        self.log.info("job %s: deregistered %s (not registered: %s)", job, removed, absent)
        if confirm:
            self.wait_for_targets(job, targets, present=False, timeout=timeout)
        return removed

    # -- rules --------------------------------------------------------------------------------

    def reload(self) -> None:
        """``POST /-/reload`` (needs ``--web.enable-lifecycle``); raises with Prometheus's message."""
        response = self._request("POST", "/-/reload")
        if response.status_code != 200:
            raise PrometheusError(
                f"Prometheus reload failed (HTTP {response.status_code}): {response.text.strip()[:2000]}"
                + (" (is --web.enable-lifecycle set?)" if response.status_code == 403 else ""),
                status_code=response.status_code,
            )

    def rule_groups(self) -> list[dict[str, Any]]:
        """``/api/v1/rules`` groups as Prometheus lists them."""
        return list((self._api("rules") or {}).get("groups") or [])

    def _loaded_group(self, name: str) -> dict[str, Any] | None:
        for group in self.rule_groups():
            if group.get("name") == name and Path(group.get("file", "")).name == f"{name}.yml":
                return group
        return None

    def apply_rule_group(
        self,
        name: str,
        rules: Iterable[Mapping[str, Any]],
        *,
        interval: str | int | float | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Write rule group ``name`` (file ``<rules_dir>/<name>.yml``), reload Prometheus, confirm it loaded.

        The file is checked with ``promtool check rules`` before it goes live; if promtool or the
        reload refuses it, the previous file is kept (or none) and the error carries their message.

        :param rules: dicts with ``alert`` or ``record``, ``expr``, and optional ``for``, ``labels``,
            ``annotations`` (as in a Prometheus rule file)
        :param interval: evaluation interval of the group (default: Prometheus's global one)
        :return: the group as ``/api/v1/rules`` lists it
        """
        text = rule_files.render_group(name, rules, interval)
        path = rule_files.rule_file(self._folder("rules_dir"), name)
        rule_files.check_rules_text(text, promtool=self.settings.promtool, display_name=path.name)
        expected = [r.get("alert") or r.get("record") for r in rule_files.normalise_rules(rules)]
        self._swap_rule_file(path, text, f"Prometheus did not load rule group {name!r}; the previous file was restored")
        group = self._wait_group(name, present=True, timeout=timeout)
        loaded = [r.get("name") for r in group.get("rules", [])]
        if loaded != expected:
            raise PrometheusRuleError(f"rule group {name!r} loaded with rules {loaded}, expected {expected}")
        self.log.info("rule group %s live in %s (%d rules)", name, path, len(loaded))
        return group

    def delete_rule_group(self, name: str, *, timeout: float = 30.0) -> bool:
        """Remove rule group ``name``'s file, reload, confirm it is gone; False if there was none."""
        path = rule_files.rule_file(self._folder("rules_dir"), name)
        if not self._swap_rule_file(
            path, None, f"Prometheus reload failed while removing rule group {name!r}; file restored"
        ):
            return False
        self._wait_group(name, present=False, timeout=timeout)
        self.log.info("rule group %s removed (%s)", name, path)
        return True

    def _swap_rule_file(self, path: Path, text: str | None, failure: str) -> bool:
        """Under the file's lock, put ``text`` in ``path`` (None: remove it) and reload Prometheus.

        When the reload fails, the previous file (or none) is put back and reloaded, so a refused
        group never stays live, and :class:`PrometheusRuleError` says ``failure`` and Prometheus's
        message. Returns False, without a reload, when asked to remove a file that is not there.
        """
        with locked(path, 60.0, PrometheusRuleError, lock_dir=lock_dir_beside(path.parent, self._lock_dir())):
            previous = rule_files.read_text(path)
            if text is None:
                if previous is None:
                    return False
                path.unlink()
            elif previous != text:
                atomic_write_text(path, text)
            try:
                self._retrying("reloading Prometheus", self.reload)
            except PrometheusError as exc:
                rule_files.restore(path, previous)
                self._reload_quietly()
                raise PrometheusRuleError(f"{failure}: {exc}", output=str(exc)) from None
        return True

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except PrometheusError as exc:
            self.log.warning("reload after restoring a rule file failed too: %s", exc)

    def _wait_group(self, name: str, *, present: bool, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            group = self._retrying("listing the rule groups", lambda: self._loaded_group(name))
            if (group is not None) == present:
                return group or {}
            if time.monotonic() >= deadline:
                state = "listed" if present else "gone"
                raise PrometheusRuleError(
                    f"rule group {name!r} not {state} in Prometheus's /api/v1/rules after {timeout:.0f}s; "
                    "check that the config's rule_files cover the rules folder"
                )
            time.sleep(0.25)
