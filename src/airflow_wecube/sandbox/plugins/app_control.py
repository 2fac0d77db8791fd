"""``deploy/app/load`` and ``deploy/app/crash``: act on an app the ``deploy`` plugin runs.

``deploy/app/load``   ``host`` (guid or name), ``app`` [, ``open_rate``, ``close_rate``,
                      ``transfer_rate``, ``wave``]: sets the load the running app generates (rates
                      per second, 0-500; at least one of them or ``wave``). Rates not given keep
                      their value; rates given without ``wave`` make the load steady (``wave`` 0), as
                      a capacity probe needs. The settings are kept with the instance, so a restart
                      of the same version runs the same load. Outputs the instance (as deploy does)
                      and the rates the app now runs: ``transfer_rate`` is 0 and ``transfers`` ``N``
                      for a build that does not perform transfers (demo behaviour: only
                      ``+transfers`` builds do); ``previous_open_rate``, ``previous_close_rate``,
                      ``previous_transfer_rate`` and ``previous_wave`` are the settings it replaced
                      (so that a caller, such as the capacity probe, can put them back).
``deploy/app/crash``  ``host``, ``app``: makes the running app crash (its ``POST /crash``: the process
                      exits at once, code 70) and records the instance ``failed`` with the reason;
                      nothing restarts it until the app is deployed again (the same version is
                      enough). Outputs the instance and ``exit_code``.

The ``deploy`` plugin registers both (:mod:`.deploy`). Both fail the entity (``errorCode "1"`` and
the reason) for an unknown host, an app never deployed on it, or an app that is not running.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from airflow_wecube.sandbox.account_service import CRASH_EXIT_CODE
from airflow_wecube.sandbox.plugin import Call, EntityError
from airflow_wecube.sandbox.plugins.app_options import RATE_INPUTS, number_input, run_options
from airflow_wecube.sandbox.plugins.instances import existing_instance, find_target, instance_output, record
from airflow_wecube.sandbox.processes import exit_message, exit_waiter, forget, host_lock, is_running, stop_process

#: seconds the app gets to answer its /load or /crash
APP_TIMEOUT = 5.0
#: seconds a crashed app gets to exit before it is killed
CRASH_EXIT_TIMEOUT = 10.0


def _running(call: Call, entity: dict[str, Any]) -> tuple[Any, Any]:
    """The (host, instance row) of a running app; the entity fails otherwise."""
    host, app = find_target(call, entity)
    row = existing_instance(call.store, host, app)
    if row["status"] != "running" or not is_running(row["pid"], row["port"]):
        why = f": {row['message']}" if row["message"] else ""
        raise EntityError(
            f"app {app} on host {host['name']} is not running (status {row['status']}{why}); deploy it first"
        )
    return host, row


def _post(port: int, path: str, body: dict | None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=APP_TIMEOUT) as r:  # noqa: S310 - loopback http only
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except (OSError, ValueError) as e:
        raise EntityError(f"POST http://127.0.0.1:{port}{path} failed: {e}") from None


def load(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Set the load a running app generates."""
    settings = {name: v for name in (*RATE_INPUTS, "wave") if (v := number_input(entity, name)) is not None}
    if not settings:
        raise EntityError(f"give at least one of {', '.join(RATE_INPUTS)} or wave")
    if "wave" not in settings:
        settings["wave"] = 0.0  # rates given: a steady load
    host, _ = find_target(call, entity)
    with host_lock(host["guid"]):
        _, row = _running(call, entity)
        status, answer = _post(row["port"], "/load", settings)
        if status != 200:
            raise EntityError(f"app {row['app']} on host {row['host']} refused the load: {answer.get('error', status)}")
        before = json.loads(row["options"] or "{}")
        after = {**before, **settings}
        row = record(call.store, row["guid"], options=json.dumps(after))
        return instance_output(
            row,
            run_options(before) != run_options(after),
            open_rate=answer["open_rate"],
            close_rate=answer["close_rate"],
            transfer_rate=answer["transfer_rate"],
            wave=answer["wave"],
            transfers="Y" if answer["transfers_enabled"] else "N",
            # what ran before, so that a caller (the capacity probe) can put it back
            **{
                f"previous_{name}": value
                for name, value in run_options(before).items()
                if name in (*RATE_INPUTS, "wave")
            },
        )


def crash(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Make a running app crash; it stays down (recorded ``failed``) until deployed again."""
    host, _ = find_target(call, entity)
    with host_lock(host["guid"]):
        _, row = _running(call, entity)
        pid = row["pid"]
        wait_exit = exit_waiter(pid)
        status, answer = _post(row["port"], "/crash", None)
        if status != 202:
            raise EntityError(f"app {row['app']} on host {row['host']} did not accept the crash: answered {status}")
        code = wait_exit(CRASH_EXIT_TIMEOUT)
        forget(pid)
        if code is None:  # it did not exit: end it, a crash is what was asked
            stop_process(pid, row["port"])
            code = -9
        row = record(
            call.store,
            row["guid"],
            status="failed",
            pid=None,
            message=f"crashed on purpose (deploy/app/crash, request {call.request_id}): {exit_message(pid, code)}",
        )
        return instance_output(row, True, exit_code=code)


__all__ = ["CRASH_EXIT_CODE", "crash", "load"]


def query(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """``deploy/app/query`` [``app``, ``host``]: the instances the plugin runs, as it sees them now:
    ``status`` (``running`` only when its process is alive), ``host_alive`` (its host exists)."""
    from airflow_wecube.sandbox.plugin import present, text

    sql = (
        "SELECT d.*, h.guid AS live_host FROM deploy_instance d LEFT JOIN host_host h ON h.guid = d.host_guid"
        " WHERE 1 = 1"
    )
    args: list[Any] = []
    for column in ("app", "host"):
        if present(entity.get(column)):
            sql += f" AND d.{column} = ?"
            args.append(text(entity, column))
    items = []
    for row in call.store.connection().execute(sql + " ORDER BY d.app, d.host", args).fetchall():
        out = instance_output(row, False)
        alive = row["live_host"] is not None
        running = alive and row["status"] == "running" and is_running(row["pid"], row["port"])
        out.update(host_alive="Y" if alive else "N", status="running" if running else row["status"])
        if row["status"] == "running" and not running:
            out["status"] = "failed"
            out["message"] = "its host is gone" if not alive else "its process is not running"
        out.pop("changed", None)
        items.append(out)
    return {"items": items, "count": len(items)}


__all__ += ["query"]
