"""`make test` runs two xdist workers, each with its own session sandbox: their apps get port ranges of
their own (two sandboxes picking from one base at once could take the same free block), between the
demo's apps (20000+) and `make cluster`'s ports (28000+)."""

from __future__ import annotations

import pytest

from tests.fixtures.sandbox import APP_PORTS_PER_WORKER, app_port_base


@pytest.mark.parametrize(
    ("worker", "base"),
    [("", 25000), ("master", 25000), ("gw0", 25000), ("gw1", 26000), ("gw2", 27000), ("gw3", 25000)],
)
def test_each_worker_has_its_own_app_ports(worker, base):
    assert app_port_base(worker) == base


def test_worker_ranges_stay_between_the_demo_and_the_cluster():
    bases = {app_port_base(f"gw{i}") for i in range(8)}
    assert all(20000 + 1000 <= b and b + APP_PORTS_PER_WORKER <= 28000 for b in bases)


def test_the_worker_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert app_port_base() == 26000
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert app_port_base() == 25000


def test_e2e_tests_split_into_two_groups_by_folder():
    """`make test -n 3`: tests/e2e/orchestrations and the folders that use its wired standalone on one
    worker, the rest of tests/e2e on another, a folder never split (its conftest's fixtures and its
    order stay on one worker)."""
    from tests.conftest import e2e_group
    from tests.fixtures.paths import E2E

    assert e2e_group(E2E / "orchestrations" / "test_canary_probe.py") == "e2e-orchestrations"
    assert e2e_group(E2E / "remediation" / "test_alert_batches.py") == "e2e-orchestrations"
    assert e2e_group(E2E / "reconcile" / "test_reconcile_dag.py") == "e2e-orchestrations"
    assert e2e_group(E2E / "test_demo.py") == "e2e"
    assert e2e_group(E2E / "test_approval.py") == "e2e"
    assert e2e_group(E2E.parent / "unit" / "test_xdist_workers.py") is None
