"""scripts/demo.sh's settings, up to where it would start something: a taken port of Airflow's is a
clear error naming the setting to change, and nothing is started (the whole demo runs in
tests/e2e/test_demo.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
DEMO_SH = REPO / "scripts" / "demo.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _marked(demo: Path) -> list[int]:
    """Pids of processes carrying this demo's WECUBE_DEMO_PART marker."""
    prefix = f"WECUBE_DEMO_PART={demo}/".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if any(e.startswith(prefix) for e in environ.read_bytes().split(b"\0")):
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize(
    "setting", ["DEMO_WORKER_LOG_SERVER_PORT", "DEMO_TRIGGER_LOG_SERVER_PORT", "DEMO_AIRFLOW_PORT"]
)
def test_a_taken_airflow_port_is_refused_before_anything_starts(tmp_path, setting):
    """Issue 25 item 10: Airflow's log servers listened on 8793/8794 whatever the demo's ports, so a
    second demo on one machine collided. Each port has a setting, and a taken one is named at once."""
    demo = tmp_path / "demo"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WECUBE", "DEMO_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        DEMO_DIR=str(demo),
        DEMO_AIRFLOW_PORT=str(_free_port()),
        DEMO_WORKER_LOG_SERVER_PORT=str(_free_port()),
        DEMO_TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        DEMO_SANDBOX_PORT=str(_free_port()),
        DEMO_PROMETHEUS_PORT=str(_free_port()),
        DEMO_ALERTMANAGER_PORT=str(_free_port()),
    )
    env[setting] = str(port)
    try:
        result = subprocess.run(["bash", str(DEMO_SH)], capture_output=True, text=True, timeout=120, env=env)
    finally:
        taken.close()
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"demo: port {port} is in use by another program (set {setting})" in result.stderr, result.stderr
    assert "started" not in result.stderr
    assert list(demo.glob("*.pgid")) == [] and _marked(demo) == []
