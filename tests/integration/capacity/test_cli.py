"""``wecube capacity fit`` against a real Prometheus with 8 days of backfilled history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_wecube.capacity.store import ModelStore
from tests.unit.capacity.synth import TRUE, TRUE_INTERCEPT

from .conftest import DRIFT_CLOSED, iso, run_cli

pytestmark = pytest.mark.integration


def _state(store: Path) -> tuple[str | None, list[str]]:
    s = ModelStore(store)
    return s.baseline_version("ledger_cpu"), s.versions("ledger_cpu")


def test_seven_days_fit_recovers_the_seed_model(accepted_baseline):
    r = accepted_baseline.report
    assert accepted_baseline.exit_code == 0 and r["accepted"]
    for name, true in TRUE.items():
        c = r["coefficients"][name]
        assert c["ci_low"] <= true <= c["ci_high"], (name, c)
        assert c["p_value"] < 0.01
    assert r["intercept"]["ci_low"] <= TRUE_INTERCEPT <= r["intercept"]["ci_high"]
    assert r["r2"] > 0.98 and 0 < r["adj_r2"] <= r["r2"]
    assert r["n"] >= 7 * 1440 - 2  # 7 days at the spec's 60 s step
    assert r["formula"].startswith("cpu% = 0.145*accounts_opened + 0.267*accounts_closed")
    assert r["gates"]["passed"] and r["drift"] is None
    assert r["inference"]["cov_type"] == "HAC" and r["inference"]["maxlags"] == 11  # rule of thumb for 7 days at 60 s
    assert r["headroom"]["scale"] > 1
    assert Path(r["plot"]).read_bytes()[:4] == b"\x89PNG"
    assert ModelStore(accepted_baseline.store).baseline_version("ledger_cpu") == r["version"]


def test_drift_window_exits_3_and_keeps_the_baseline(capacity_history, accepted_baseline):
    """The real console script, as a user runs it."""
    before, versions = _state(accepted_baseline.store)
    env = {**os.environ, "AIRFLOW_CONN_PROMETHEUS_DEFAULT": capacity_history.conn_json}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "wecube"),
            "capacity",
            "fit",
            str(accepted_baseline.spec),
            "--start",
            iso(capacity_history.b_start),
            "--end",
            str(capacity_history.b_end),
            "--store",
            str(accepted_baseline.store),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    r = json.loads(proc.stdout)
    assert r["gates"]["passed"] and r["drift"]["found"] and not r["accepted"]
    moved = [row for row in r["drift"]["coefficients"] if row["moved"]]
    assert [row["name"] for row in moved] == ["accounts_closed"]
    row = moved[0]
    assert row["new"] == pytest.approx(DRIFT_CLOSED, abs=0.01) and row["old"] == pytest.approx(0.267, abs=0.005)
    assert (
        r["coefficients"]["accounts_closed"]["ci_low"]
        <= DRIFT_CLOSED
        <= r["coefficients"]["accounts_closed"]["ci_high"]
    )
    assert "accounts_closed: 0.267 → 0.35" in r["drift"]["messages"][0]
    chow = r["drift"]["chow"]
    assert chow["method"] == "wald" and chow["drift"] and chow["p_value"] < 1e-10
    after, versions_after = _state(accepted_baseline.store)
    assert after == before and len(versions_after) == len(versions) + 1
    # the history shows the drifted version next to the baseline, which stays marked
    code, out = run_cli(["capacity", "list", "ledger_cpu", "--store", str(accepted_baseline.store), "--json"])
    assert code == 0
    statuses = {row["version"]: row["status"] for row in json.loads(out)["versions"]}
    assert statuses[r["version"]] == "drift" and statuses[before] == "baseline"


def test_text_report_and_too_few_samples_exit_2(capacity_history, accepted_baseline, capacity_conn):
    before, _ = _state(accepted_baseline.store)
    end = capacity_history.a_end
    code, out = run_cli(
        [
            "capacity",
            "fit",
            str(accepted_baseline.spec),
            "--start",
            str(end - 1800),
            "--end",
            str(end),
            "--store",
            str(accepted_baseline.store),
        ]
    )
    assert code == 2
    assert "gates: FAILED" in out and "fewer than the 500 required" in out
    assert _state(accepted_baseline.store)[0] == before


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            {"  accounts_closed: accounts_closed\n": "  accounts_closed: accounts_closed\n  frozen: accounts_frozen\n"},
            "feature 'frozen' is constant",
        ),
        (
            {"  accounts_closed: accounts_closed\n": "  accounts_closed: accounts_closed\n  queue: queue_depth\n"},
            "returned 2 series",
        ),
        ({"target: cpu_percent": "target: cpu_percent{"}, "cpu_percent{"),
    ],
    ids=["constant-feature", "multi-series", "bad-promql"],
)
def test_bad_data_is_a_clear_error_and_stores_nothing(
    capacity_history, accepted_baseline, capacity_conn, capsys, change, needle
):
    spec = capacity_history.spec_file("ledger_cpu", **change)
    before = _state(accepted_baseline.store)
    code, _ = run_cli(
        [
            "capacity",
            "fit",
            str(spec),
            "--start",
            str(capacity_history.b_start),
            "--end",
            str(capacity_history.b_end),
            "--store",
            str(accepted_baseline.store),
        ]
    )
    assert code == 1
    assert needle in capsys.readouterr().err
    assert _state(accepted_baseline.store) == before


def test_prometheus_down_is_a_clear_error(accepted_baseline, monkeypatch, capsys):
    from tests.fixtures.prometheus import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT",
        json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{free_port()}"}),
    )
    before = _state(accepted_baseline.store)
    code, _ = run_cli(["capacity", "fit", str(accepted_baseline.spec), "--store", str(accepted_baseline.store)])
    assert code == 1
    assert "unreachable" in capsys.readouterr().err
    assert _state(accepted_baseline.store) == before


def test_store_from_airflow_config(capacity_history, accepted_baseline, capacity_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(tmp_path / "cfgstore"))
    code, out = run_cli(
        [
            "capacity",
            "fit",
            str(accepted_baseline.spec),
            "--start",
            str(capacity_history.a_end - 2 * 86400),
            "--end",
            str(capacity_history.a_end),
            "--json",
        ]
    )
    assert code == 0, out
    assert ModelStore(tmp_path / "cfgstore").baseline_version("ledger_cpu") == json.loads(out)["version"]


def _wecube(args: list[str], conn_json: str) -> subprocess.CompletedProcess:
    """The real console script, as a user runs it."""
    env = {**os.environ, "AIRFLOW_CONN_PROMETHEUS_DEFAULT": conn_json}
    return subprocess.run(
        [str(Path(sys.executable).parent / "wecube"), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_model_of_nothing_exits_2_with_the_reason(capacity_history, tmp_path):
    """Issue 16 item 5: a target that is always 0 crashed in the gate (TypeError) and left a not-gated version."""
    spec = capacity_history.spec_file("nothing", **{"target: cpu_percent": "target: cpu_percent * 0"})
    store = tmp_path / "store"
    end = capacity_history.a_end
    proc = _wecube(
        ["capacity", "fit", str(spec), "--start", str(end - 2 * 86400), "--end", str(end), "--store", str(store)],
        capacity_history.conn_json,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "target has no variance: it is 0 at every sample" in proc.stdout and "R² undefined" in proc.stdout
    listing = _wecube(["capacity", "list", "nothing", "--store", str(store), "--json"], capacity_history.conn_json)
    assert [row["status"] for row in json.loads(listing.stdout)["versions"]] == ["gate-failed"]
    assert ModelStore(store).baseline_version("nothing") is None


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may write to, root included (root ignores modes: the immutable attribute stops it)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is not available here")
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("file", "cannot be written (a file, not a folder"),
        ("file/sub", "cannot be written (Not a directory"),
        ("ro", "cannot be written"),
        ("ro/sub", "cannot be written"),
        ("gopher://example.org/capacity", "unsupported URL (Unsupported filesystem: 'gopher')"),
    ],
)
@pytest.mark.parametrize("prometheus", ["up", "down"])
def test_an_unwritable_store_is_refused_before_the_fetch(
    capacity_history, tmp_path, read_only_dir, store, needle, prometheus
):
    """Issue 16 item 7: the store error came as a traceback after the fetch and fit. With Prometheus
    down, the store error still comes first: nothing was fetched."""
    from tests.fixtures.prometheus import free_port

    (tmp_path / "file").write_text("not a folder\n")
    target = store if "://" in store else str(tmp_path / store)
    conn = (
        capacity_history.conn_json
        if prometheus == "up"
        else json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{free_port()}"})
    )
    proc = _wecube(
        [
            "capacity",
            "fit",
            str(capacity_history.spec_file()),
            "--start",
            str(capacity_history.a_start),
            "--end",
            str(capacity_history.a_end),
            "--store",
            target,
        ],
        conn,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and needle in proc.stderr, proc.stderr
    assert "nothing was fetched or fitted" in proc.stderr or "unsupported URL" in proc.stderr
    assert list(read_only_dir.iterdir()) == [] and (tmp_path / "file").read_text() == "not a folder\n"


def test_a_window_of_too_many_points_is_refused_before_the_fetch(capacity_history, tmp_path):
    proc = _wecube(
        [
            "capacity",
            "fit",
            str(capacity_history.spec_file()),
            "--start",
            "2000-01-01T00:00:00Z",
            "--store",
            str(tmp_path / "store"),
        ],
        capacity_history.conn_json,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "points per series, more than the 1,000,000 a fit may fetch" in proc.stderr
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("replace", "needle"),
    [
        ({"limit: 80\n": "limit: 80\nlimit: 90\n"}, "duplicate key 'limit' (line 11 and line 12)"),
        ({"limit: 80\n": "limit: -5\n"}, "limit: Value error, limit must be a finite number > 0"),
        ({"limit: 80\n": "limit: .nan\n"}, "limit: Value error, limit must be a finite number > 0"),
        ({"window: 7d\n": "window: 99999999999d\n"}, "window: Value error, duration too long"),
    ],
    ids=["duplicate-key", "negative-limit", "nan-limit", "window-overflow"],
)
def test_nonsense_in_a_spec_is_refused_with_the_key_named(capacity_history, tmp_path, replace, needle):
    """Issue 16 item 7, as a user runs it: refused before any fetch, nothing stored, no traceback."""
    proc = _wecube(
        ["capacity", "fit", str(capacity_history.spec_file("nonsense", **replace)), "--store", str(tmp_path / "store")],
        capacity_history.conn_json,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert not (tmp_path / "store").exists()
