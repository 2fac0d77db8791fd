"""A run's report: before/after per difference, a fix reality does not show is failed, the message."""

from __future__ import annotations

from airflow_wecube.reconcile.report import evidence, message, with_after


def entry(key, decision="act", outcome="fixed", **extra):
    kind, name = key.split("/")
    row = {"key": key, "status": "missing", "detail": "designed, the plugin does not have it", "diff": []}
    return {
        "key": key,
        "kind": kind,
        "name": name,
        "class": "missing",
        "detail": row["detail"],
        "action": "create",
        "decision": decision,
        "outcome": outcome,
        "reason": "strategy",
        "row": row,
        **extra,
    }


def test_after_is_read_again_and_a_fix_not_seen_is_failed():
    entries = [
        entry("subnet/a"),
        entry("subnet/b"),
        entry("security_group/x", decision="ask", outcome="not done", proposal="delete"),
    ]
    after = [{"key": "subnet/a", "status": "ok"}, {"key": "subnet/b", "status": "missing", "detail": "still"}]
    out = {e["key"]: e for e in with_after(entries, after)}
    assert out["subnet/a"]["outcome"] == "fixed" and out["subnet/a"]["before"]["status"] == "missing"
    assert out["subnet/b"]["outcome"] == "failed" and out["subnet/b"]["error"] == "not converged: still missing (still)"
    assert "row" not in out["subnet/a"]
    text = message(list(out.values()))
    assert text.splitlines()[-1] == "3 difference(s): 1 fixed, 1 failed, 1 asked"
    assert "subnet a: missing -> create, act -> fixed" in text
    assert "| security_group `x` (designed, the plugin does not have it) | missing | strategy | delete |" in evidence(
        list(out.values())
    )


def test_nothing_to_do():
    assert message([]) == "nothing to do: reality equals the design"
    left = [entry("security_group/x", decision="ignore", outcome="not done")]
    assert message(left) == "nothing to do: reality equals the design, but for what is left as it is (security_group x)"
