"""Capacity models wired to Airflow: the store, Prometheus, notifiers and Assets.

Shared by the refit DAG, :class:`~airflow_wecube.operators.capacity.CapacityGateOperator` and
``wecube capacity``. The modelling itself is the rest of :mod:`airflow_wecube.capacity` (no Airflow
there); this is the one module of the package that talks to Airflow, and it does so only inside the
functions that need it, so the package still imports without Airflow and the CLI and DAG parsing do
not load ``BaseOperator`` or the hook to list a model's versions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_wecube import config
from airflow_wecube.capacity.drift_text import drift_html, drift_subject
from airflow_wecube.capacity.errors import SpecError, StoreError

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Asset, BaseNotifier, Context

    from airflow_wecube.capacity.spec import CapacitySpec
    from airflow_wecube.capacity.store import ModelStore

log = logging.getLogger(__name__)

ASSET_URI_SCHEME = "wecube-capacity"


def asset_uri(model: str) -> str:
    """URI of the Airflow Asset updated each time ``model`` gets a new accepted baseline."""
    return f"{ASSET_URI_SCHEME}://{model}"


def capacity_asset(model: str) -> Asset:
    """The Asset other DAGs schedule on to react to a new accepted ``model``.

    Use: ``schedule=[capacity_asset("ledger_cpu")]``.
    """
    from airflow.sdk import Asset

    return Asset(name=f"wecube_capacity_{model}", uri=asset_uri(model), group="capacity")


def _dags_folder() -> Path:
    return config.dags_folder().expanduser()


def specs_folder(dags_folder: str | os.PathLike | None = None) -> Path:
    """Where spec YAML files live: ``$WECUBE_CAPACITY_SPECS``, else ``capacity/`` in the DAGs folder.

    :param dags_folder: the folder holding the DAG that asks (a DAG passes its own folder, so the
        specs travel with its bundle); default Airflow's ``[core] dags_folder``
    """
    base = Path(dags_folder) if dags_folder is not None else _dags_folder()
    return Path(os.environ.get("WECUBE_CAPACITY_SPECS") or base / "capacity")


def resolve_spec(spec: str | os.PathLike | dict | CapacitySpec) -> CapacitySpec:
    """A spec from a :class:`CapacitySpec`, a dict, a YAML path, or a model name in :func:`specs_folder`.

    A relative path that does not exist is looked up beside the DAGs.
    """
    from airflow_wecube.capacity.spec import CapacitySpec, load_spec

    if isinstance(spec, CapacitySpec):
        return spec
    if isinstance(spec, dict):
        return load_spec(spec)
    text = os.fspath(spec)
    if text.endswith((".yml", ".yaml")) or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_absolute() and not path.exists():
            path = _dags_folder() / path
        return load_spec(path)
    folder = specs_folder()
    for suffix in (".yml", ".yaml"):
        candidate = folder / f"{text}{suffix}"
        if candidate.exists():
            return load_spec(candidate)
    raise SpecError(f"no spec file for model {text!r} in {folder}")


def open_store(store: Any = None) -> ModelStore:
    """The model store at ``store`` (path, URL or ObjectStoragePath), else ``[wecube] capacity_store``.

    URLs other than ``file://`` become an ``ObjectStoragePath`` (its fsspec filesystem does the I/O);
    local paths stay plain paths so writes are atomic renames.
    """
    from airflow_wecube.capacity.store import ModelStore

    if store in (None, ""):
        store = config.airflow_option("capacity_store")
    if store in (None, ""):
        raise StoreError("no capacity store: pass one (--store / store=) or set [wecube] capacity_store")
    if hasattr(store, "fs"):  # an ObjectStoragePath already
        if getattr(store, "protocol", None) in ("file", "local", ""):
            return ModelStore(Path(store.path))
        return ModelStore(store)
    text = os.fspath(store)
    if "://" in text and not text.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        try:
            return ModelStore(ObjectStoragePath(text))
        except (ValueError, ImportError) as e:  # fsspec: "Unsupported filesystem", "Install s3fs to access S3"
            raise StoreError(
                f"capacity store {text}: unsupported URL ({e}); use a local folder, file://, or an "
                "object storage URL whose fsspec filesystem is installed (s3:// needs s3fs)"
            ) from None
    return ModelStore(text)


def fetch_frame(spec: CapacitySpec, start: datetime, end: datetime, *, prometheus_conn_id: str = "prometheus_default"):
    """Range-query the spec's target and features into one aligned frame (one column per query)."""
    from airflow_wecube.hooks.prometheus import PrometheusHook

    hook = PrometheusHook(prometheus_conn_id=prometheus_conn_id)
    return hook.query_range_frame(spec.queries(), start, end, spec.step_td.total_seconds())


def publish_rules(
    spec: CapacitySpec, record: dict[str, Any], *, prometheus_conn_id: str = "prometheus_default"
) -> dict:
    """Write the model's recording rule and alert (group ``capacity_<model>``), reload, confirm loaded."""
    from airflow_wecube.capacity.rules import build_rules, rule_group_name
    from airflow_wecube.hooks.prometheus import PrometheusHook

    hook = PrometheusHook(prometheus_conn_id=prometheus_conn_id)
    return hook.apply_rule_group(
        rule_group_name(spec.name), build_rules(spec, record["fit"], version=record.get("version"))
    )


def smtp_conn_id(explicit: str | None = None) -> str:
    """The SMTP connection of the default drift e-mail.

    ``explicit``, else ``[wecube] smtp_conn_id``, else ``smtp_default``.
    """
    return explicit or config.get("smtp_conn_id")


def _log_url(context: Context | dict) -> str | None:
    ti = context.get("ti") or context.get("task_instance")
    try:
        return getattr(ti, "log_url", None) if ti is not None else None
    except Exception:  # no [api] base_url or a TI that cannot build it: mail without the link
        log.debug("no log_url for %r", ti, exc_info=True)
        return None


def default_drift_notifiers(
    owners: Sequence[str] | None, model: str, *, conn_id: str | None = None
) -> list[BaseNotifier]:
    """The default on drift: one ``SmtpNotifier`` e-mail to the spec's ``owners``.

    Empty (with a warning saying why) when no owner is an e-mail address, the SMTP connection does
    not exist or no sender is known; the task fails on drift all the same, so the run shows it.
    Subject and body come from the context (``capacity_subject``, ``capacity_html``) that
    :func:`notify_drift` fills, so nothing in the report is read as a Jinja template.

    :param owners: the spec's ``owners``; entries without ``@`` (team names) are skipped
    :param model: the model's name, for the warnings
    :param conn_id: SMTP connection; default :func:`smtp_conn_id`
    """
    from airflow.sdk import BaseHook, conf
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = smtp_conn_id(conn_id)
    to = [o for o in owners or () if "@" in o]
    if not to:
        log.warning(
            "drift not e-mailed: capacity model %s lists no e-mail address in its spec's owners (%s)",
            model,
            ", ".join(owners or ()) or "none",
        )
        return []
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.warning(
            "drift not e-mailed: no connection %s; set [wecube] smtp_conn_id to an SMTP connection "
            "(or create %s, e.g. AIRFLOW_CONN_%s) so the owners of %s (%s) are told",
            conn_id,
            conn_id,
            conn_id.upper(),
            model,
            ", ".join(to),
        )
        return []
    from_email = conn.extra_dejson.get("from_email") or conf.get("email", "from_email", fallback=None)
    if not from_email:
        log.warning(
            "drift not e-mailed: connection %s has no from_email extra and [email] from_email is unset", conn_id
        )
        return []
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return [
        SmtpNotifier(
            smtp_conn_id=conn_id,
            from_email=from_email,
            to=to,
            subject="{{ capacity_subject }}",
            html_content="{{ capacity_html }}",
        )
    ]


def notify_drift(
    notifiers: Sequence[BaseNotifier] | None,
    context: Context | dict,
    report: dict[str, Any],
    *,
    owners: Sequence[str] | None = None,
    smtp_conn_id: str | None = None,
) -> int:
    """Tell of a drift: call each notifier with the task context plus the drift.

    The context gets ``capacity_report``, ``capacity_drift``, ``capacity_owners``,
    ``capacity_subject`` (:func:`~airflow_wecube.capacity.drift_text.drift_subject`) and ``capacity_html``
    (:func:`~airflow_wecube.capacity.drift_text.drift_html`, with the task's log link), so explicit
    notifiers can reuse them, e.g.
    ``SmtpNotifier(to=["oncall@example.com"], subject="{{ capacity_subject }}", html_content="{{ capacity_html }}")``.
    A notifier that fails is logged and skipped, so one broken channel does not hide the drift from
    the others. Returns how many notifiers succeeded.

    :param notifiers: explicit notifiers; ``None`` means the default, an e-mail to ``owners``
        (:func:`default_drift_notifiers`); an empty list tells nobody
    :param owners: the spec's owners, for the default e-mail
    :param smtp_conn_id: SMTP connection of the default e-mail; default ``[wecube] smtp_conn_id``
    """
    ctx = dict(context)
    ctx["capacity_report"] = report
    ctx["capacity_drift"] = report.get("drift")
    ctx["capacity_owners"] = list(owners or ())
    ctx["capacity_subject"] = drift_subject(report)
    ctx["capacity_html"] = drift_html(report, _log_url(context))
    if notifiers is None:
        notifiers = default_drift_notifiers(owners, report["model"], conn_id=smtp_conn_id)
    ok = 0
    for notifier in notifiers:
        try:
            notifier(ctx)
            ok += 1
        except Exception:
            log.exception("drift notifier %r failed", notifier)
    if ok:
        log.info("drift of %s told through %d notifier(s)", report["model"], ok)
    return ok


def notify_probe(
    notifiers: Sequence[Any] | None,
    context: Mapping[str, Any],
    result: Mapping[str, Any],
    *,
    owners: Sequence[str],
    smtp_conn_id: str | None,
) -> int:
    """Tell the spec's owners of a non-pass verdict (default: an e-mail with the report); returns how many succeeded."""
    import html

    from airflow_wecube.capacity.verdict import headline

    ctx = dict(context)
    ctx["capacity_report"] = dict(result)
    ctx["capacity_owners"] = list(owners)
    ctx["capacity_subject"] = "[capacity probe] " + headline(result)
    ctx["capacity_html"] = f"<pre>{html.escape(result.get('report_markdown') or '')}</pre>"
    if notifiers is None:
        notifiers = default_drift_notifiers(owners, result["model"], conn_id=smtp_conn_id)
    ok = 0
    for n in notifiers:
        try:
            n(ctx)
            ok += 1
        except Exception:
            log.exception("probe notifier %r failed", n)
    return ok
