"""``wecube capacity list`` and ``wecube capacity accept`` on a real local store (fits from synthetic frames)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from airflow_wecube.capacity import pipeline
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore
from tests.unit.capacity.synth import SPEC, make_frame


def wecube(argv: list[str]) -> tuple[int, str, str]:
    from airflow_wecube.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def history(tmp_path):
    """A baseline, then a release that made closing dearer (drift), then a fit that failed its gates."""
    store = ModelStore(tmp_path / "store")
    spec = load_spec(SPEC)
    spec_file = tmp_path / "ledger_cpu.yml"
    spec_file.write_text(json.dumps(SPEC))  # JSON is YAML
    first = pipeline.run(spec, make_frame(), store, plot=False)
    drifted = pipeline.run(spec, make_frame(2880, seed=7, closed_coef=0.35), store, plot=False)
    failed = pipeline.run(spec, make_frame(60, seed=8), store, plot=False)
    assert (
        pipeline.exit_code(drifted) == pipeline.EXIT_DRIFT and pipeline.exit_code(failed) == pipeline.EXIT_GATE_FAILED
    )
    return {
        "store": store,
        "dir": str(tmp_path / "store"),
        "spec_file": str(spec_file),
        "first": first["version"],
        "drifted": drifted["version"],
        "failed": failed["version"],
    }


def test_list_shows_history_with_the_baseline_marked(history):
    code, out, _ = wecube(["capacity", "list", "ledger_cpu", "--store", history["dir"], "--json"])
    assert code == 0
    listing = json.loads(out)
    assert listing["baseline_version"] == history["first"]
    rows = {r["version"]: r for r in listing["versions"]}
    assert list(rows) == [history["first"], history["drifted"], history["failed"]]
    assert rows[history["first"]]["baseline"] and rows[history["first"]]["status"] == "baseline"
    assert rows[history["drifted"]]["status"] == "drift" and rows[history["drifted"]]["drift_found"]
    assert rows[history["drifted"]]["compared_with"] == history["first"]
    assert rows[history["failed"]]["status"] == "gate-failed" and rows[history["failed"]]["gates_passed"] is False
    assert all(r["standard_errors"] == "HAC" for r in rows.values())
    code, text, _ = wecube(["capacity", "list", history["spec_file"], "--store", history["dir"]])
    assert code == 0
    marked = [line for line in text.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and history["first"] in marked[0]
    assert "cpu% = 0.145*accounts_opened" in text


def test_accept_a_drifted_version_after_an_intended_change(history):
    code, out, _ = wecube(
        [
            "capacity",
            "accept",
            history["spec_file"],
            history["drifted"],
            "--store",
            history["dir"],
            "--reason",
            "release 2.3 audits every closed account",
        ]
    )
    assert code == 0, out
    assert f"version {history['drifted']} is now the accepted baseline (was {history['first']})" in out
    assert "accepted change: accounts_closed: 0.267 → 0.35" in out
    store = history["store"]
    assert store.baseline_version("ledger_cpu") == history["drifted"]
    hist = store.baseline_history("ledger_cpu")
    assert [h["version"] for h in hist] == [history["first"], history["drifted"]]
    assert hist[-1]["reason"] == "accepted by hand: release 2.3 audits every closed account"
    assert store.load_version("ledger_cpu", history["drifted"])["accepted"]
    # the next refit on the new cost is compared with the new baseline: no drift, accepted
    spec = load_spec(SPEC)
    nightly = pipeline.run(spec, make_frame(2880, seed=9, closed_coef=0.35), store, plot=False)
    assert pipeline.exit_code(nightly) == 0 and nightly["accepted"]
    # accepting the baseline again changes nothing
    code, out, _ = wecube(["capacity", "accept", "ledger_cpu", nightly["version"], "--store", history["dir"], "--json"])
    assert code == 0 and json.loads(out)["changed"] is False
    listing = pipeline.list_versions(store, "ledger_cpu")
    assert {r["version"]: r["status"] for r in listing["versions"]}[history["first"]] == "accepted"


def test_accept_refuses_a_version_that_failed_its_gates(history):
    before = history["store"].baseline_history("ledger_cpu")
    code, out, err = wecube(["capacity", "accept", "ledger_cpu", history["failed"], "--store", history["dir"]])
    assert code == 2 and out == ""
    assert "refused" in err and "failed its gates" in err and "fewer than the 500 required" in err
    assert history["store"].baseline_history("ledger_cpu") == before
    assert not history["store"].load_version("ledger_cpu", history["failed"])["accepted"]


def test_accept_refuses_a_version_never_gated(history, tmp_path):
    spec = load_spec(SPEC)
    store = history["store"]
    version = pipeline.fit_and_save(spec, make_frame(2000, seed=5), store, plot=False)
    assert store.load_version("ledger_cpu", version)["gates"]["passed"]  # judged before it was stored
    store.update_version("ledger_cpu", version, gates=None)  # as an older release stored it, its gate task never ran
    code, _, err = wecube(["capacity", "accept", "ledger_cpu", "latest", "--store", history["dir"]])
    assert code == 2 and "never gated" in err and version in err
    assert store.baseline_version("ledger_cpu") == history["first"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["capacity", "accept", "ledger_cpu", "20990101T000000000000Z-abcdef"], "has no version"),
        (["capacity", "accept", "ledger_cpu", "../../etc/passwd"], "invalid version"),
        (["capacity", "accept", "no_such_model", "latest"], "no versions"),
        (["capacity", "list", "no_such_model"], "has no versions"),
        (["capacity", "list", "missing.yml"], "cannot read spec"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(history, argv, needle):
    before = (history["store"].baseline_history("ledger_cpu"), history["store"].versions("ledger_cpu"))
    code, out, err = wecube([*argv, "--store", history["dir"]])
    assert code == 1 and needle in err, err
    assert (history["store"].baseline_history("ledger_cpu"), history["store"].versions("ledger_cpu")) == before


def test_cli_does_not_load_the_operator_or_the_hook(history):
    """``wecube capacity list`` needs the store only: no BaseOperator module, no Prometheus hook."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow_wecube.cli import main\n"
        f"rc = main(['capacity', 'list', 'ledger_cpu', '--store', {history['dir']!r}, '--json'])\n"
        "heavy = [m for m in ('airflow_wecube.operators.capacity', 'airflow_wecube.hooks.prometheus') "
        "if m in sys.modules]\n"
        "assert rc == 0 and not heavy, (rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["baseline_version"] == history["first"]
