"""Delivering the ``taskman`` inbox's callbacks: POST each closed task's body to its ``callbackUrl``.

A closed task's delivery is ``pending`` until a POST succeeds (``delivered``) or gives up (``failed``).
The first attempt is made at once, by the request that closed the task; later ones by a worker
thread (one per sandbox app, started and stopped with it), so a sandbox restart resumes them.

* HTTP 2xx delivers, unless the answer is JSON with a ``status`` other than ``OK`` (WeCube's
  platform answers ``{"status": "OK", ...}``; taskman treats anything else as a failed callback).
* A connection error, a timeout, HTTP 408/429/5xx: tried again after a backoff that doubles, at
  most ``attempts`` times in all.
* Any other answer (a 4xx such as an unknown callback token): ``failed`` at once, not retried.

A failed delivery is kept: ``POST /taskman/inbox/api/tasks/<id>/redeliver`` (or the page's button)
queues it again. Settings come from the environment (:meth:`DeliverySettings.from_env`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_wecube.sandbox.plugins.taskman_tasks import DELIVERED, FAILED, PENDING
from airflow_wecube.sandbox.store import Store

log = logging.getLogger(__name__)

#: environment variables read by :meth:`DeliverySettings.from_env`
ENV_ATTEMPTS = "WECUBE_SANDBOX_CALLBACK_ATTEMPTS"
ENV_BACKOFF = "WECUBE_SANDBOX_CALLBACK_BACKOFF"
ENV_TIMEOUT = "WECUBE_SANDBOX_CALLBACK_TIMEOUT"
ENV_BASE_URL = "WECUBE_SANDBOX_CALLBACK_BASE_URL"

#: the longest wait between two attempts, whatever the backoff
MAX_BACKOFF = 60.0
#: HTTP statuses worth another try
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
#: how much of an answer's body a delivery error quotes
QUOTE = 200


@dataclass(frozen=True)
class DeliverySettings:
    """How callbacks are delivered.

    :param attempts: POSTs per delivery before it is ``failed`` (the first one included)
    :param backoff: seconds before the second attempt; doubled for each one after, up to a minute
    :param timeout: seconds one POST may take
    :param base_url: prefix of a ``callbackUrl`` that is a path (real WeCube sends one: taskman adds
        the platform's address); a path is refused when this is empty
    """

    attempts: int = 5
    backoff: float = 2.0
    timeout: float = 10.0
    base_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DeliverySettings:
        """Read ``WECUBE_SANDBOX_CALLBACK_{ATTEMPTS,BACKOFF,TIMEOUT,BASE_URL}``; a bad value is refused."""
        problems: list[str] = []

        def number(name: str, default: float, kind: type, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or not low <= value <= high:
                problems.append(
                    f"{name}={raw!r} must be a{'n integer' if kind is int else ' number'} from {low:g} to {high:g}"
                )
                return default
            return value

        attempts = int(number(ENV_ATTEMPTS, cls.attempts, int, 1, 100))
        backoff = number(ENV_BACKOFF, cls.backoff, float, 0.01, MAX_BACKOFF)
        timeout = number(ENV_TIMEOUT, cls.timeout, float, 0.1, 300)
        base = env.get(ENV_BASE_URL, "").strip().rstrip("/")
        if base and (urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc):
            problems.append(f"{ENV_BASE_URL}={base!r} must be an http(s) URL such as http://127.0.0.1:8080")
        if problems:
            raise ValueError("bad sandbox callback settings: " + "; ".join(problems))
        return cls(attempts=attempts, backoff=backoff, timeout=timeout, base_url=base)

    def delay(self, attempts_made: int) -> float:
        """Seconds to wait after ``attempts_made`` failed attempts."""
        return min(self.backoff * 2 ** max(attempts_made - 1, 0), MAX_BACKOFF)


def resolve_url(callback_url: str, base_url: str) -> str:
    """The URL to POST to: ``callback_url`` itself when absolute, else ``base_url`` + the path.

    :raises ValueError: not an http(s) URL nor a path, or a path with no base URL configured
    """
    url = callback_url.strip()
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if url.startswith("/") and not parts.scheme and not parts.netloc:
        if not base_url:
            raise ValueError(
                f"callbackUrl {url!r} is a path, and the sandbox has no base URL to put before it"
                f" (start it with {ENV_BASE_URL}=http://<platform>, or send an absolute URL)"
            )
        return base_url + url
    raise ValueError(f"callbackUrl must be an http(s) URL or a path starting with '/', got {url!r}")


def post_callback(url: str, body: dict, timeout: float) -> tuple[bool, bool, str]:
    """One POST: ``(delivered, worth retrying, error)``."""
    import requests  # here, not at import: requests registers an atexit hook, and building the app must not

    try:
        r = requests.post(url, json=body, timeout=timeout, headers={"User-Agent": "wecube-sandbox-taskman"})
    except requests.RequestException as e:
        return False, True, _without_path(f"{type(e).__name__}: {e}", url)
    if not r.ok:
        return False, r.status_code in RETRY_STATUSES, _without_path(f"HTTP {r.status_code}: {r.text[:QUOTE]}", url)
    try:
        answer = r.json()
    except ValueError:
        return True, False, ""
    status = answer.get("status") if isinstance(answer, dict) else None
    if status is not None and str(status).upper() != "OK":
        message = str(answer.get("message", ""))[:QUOTE]
        return False, False, _without_path(f"the receiver answered status {status!r}: {message}", url)
    return True, False, ""


def _without_path(message: str, url: str) -> str:
    """``message`` without the URL's path and query (a callback URL's token is a secret: it must not
    reach the log), cut to a readable length."""
    parts = urlsplit(url)
    for secret in filter(None, (parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query)):
        if secret != "/":
            message = message.replace(secret, "<path>")
    return message if len(message) <= 2 * QUOTE else message[: 2 * QUOTE] + "..."


def _claim(db: sqlite3.Connection, task_id: str, now: float, lease: float) -> sqlite3.Row | None:
    """Take the task's due delivery for ``lease`` seconds (so nobody else sends it meanwhile)."""
    claimed = db.execute(
        "UPDATE taskman_tasks SET claimed_until = ? WHERE id = ? AND delivery = ? AND next_attempt_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until < ?)",
        (now + lease, task_id, PENDING, now, now),
    ).rowcount
    return db.execute("SELECT * FROM taskman_tasks WHERE id = ?", (task_id,)).fetchone() if claimed else None


def deliver(store: Store, task_id: str, settings: DeliverySettings) -> bool:
    """Make the task's next delivery attempt if it is due and nobody else is making it; ``True`` if made."""
    db = store.connection()
    row = _claim(db, task_id, time.time(), settings.timeout + 5)
    if row is None:
        return False
    attempts = row["attempts"] + 1
    try:
        url = resolve_url(row["callback_url"], settings.base_url)
    except ValueError as e:
        delivered, retry, error = False, False, str(e)
    else:
        delivered, retry, error = post_callback(url, json.loads(row["callback_body"]), settings.timeout)
    now = time.time()
    if delivered:
        state, next_at = DELIVERED, None
    elif retry and attempts < settings.attempts:
        state, next_at = PENDING, now + settings.delay(attempts)
    else:
        state, next_at = FAILED, None
    db.execute(
        "UPDATE taskman_tasks SET delivery = ?, attempts = ?, next_attempt_at = ?, claimed_until = NULL,"
        " last_error = ?, delivered_at = ? WHERE id = ?",
        (state, attempts, next_at, error or None, now if delivered else None, task_id),
    )
    if not delivered:
        log.warning("callback of task %s, attempt %d: %s (%s)", task_id, attempts, error, state)
    return True


def _due(db: sqlite3.Connection, now: float) -> list[str]:
    rows = db.execute(
        "SELECT id FROM taskman_tasks WHERE delivery = ? AND next_attempt_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt_at LIMIT 50",
        (PENDING, now, now),
    )
    return [r["id"] for r in rows.fetchall()]


def _next_due(db: sqlite3.Connection) -> float | None:
    return db.execute("SELECT MIN(next_attempt_at) FROM taskman_tasks WHERE delivery = ?", (PENDING,)).fetchone()[0]


class DeliveryWorker:
    """The thread that makes the attempts nobody made at once: retries, and those left by a restart."""

    def __init__(self, store: Store, settings: DeliverySettings) -> None:
        self.store = store
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="taskman-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Look for due deliveries now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 1.0
            try:
                db = self.store.connection()
                for task_id in _due(db, time.time()):
                    if self._stop.is_set():
                        return
                    deliver(self.store, task_id, self.settings)
                soonest = _next_due(db)
                if soonest is not None:
                    wait = min(max(soonest - time.time(), 0.02), 1.0)
            except Exception:  # the worker must outlive one bad row or a busy database
                log.exception("taskman callback worker")
            self._wake.wait(wait)
            self._wake.clear()
