"""Server time of each WeCube UI page and its JSON twin at scale.

1,000 registered services (50 packages x 20 interfaces), one capacity model with 100 versions, and
10,000 CMDB records (of one type, the worst case for a listing) in a sandbox CMDB on loopback.
Each page is served in process by the WeCube app (Airflow's permission checks stubbed: they are
the same few microseconds on every page); median and worst of 20 requests each.

Run by hand: ``.venv/bin/python bench/ui_pages.py``; results go to bench/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

N = int(os.environ.get("BENCH_N", "20"))
TARGET_MS = 300


def setup(work: Path) -> tuple[subprocess.Popen, str]:
    os.environ["AIRFLOW_HOME"] = str(work / "home")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{work / 'home' / 'airflow.db'}"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(work / "dags")
    shutil.copytree(REPO / "dags", work / "dags")
    os.environ["WECUBE_REGISTRY_PATH"] = str(work / "registry")
    os.environ["AIRFLOW__WECUBE__CAPACITY_STORE"] = str(work / "capacity")
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )

    from plugin_call import TOKEN, start_sandbox

    proc, url = start_sandbox(work)
    os.environ["AIRFLOW_CONN_WECUBE_DEFAULT"] = json.dumps({"conn_type": "wecube", "host": url, "password": TOKEN})

    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.registry.xml import load_register_xml
    from airflow_wecube.sandbox import manifest_paths

    reg = Registry(work / "registry")
    for path in manifest_paths():
        reg.register(load_manifest(path))
    itfs = "".join(
        f"<interface action='a{i}' path='/p/a{i}'><inputParameters>"
        f"<parameter datatype='string' required='Y'>x</parameter>"
        f"<parameter datatype='string' sensitiveData='Y'>pw</parameter></inputParameters>"
        f"<outputParameters><parameter datatype='string'>y</parameter></outputParameters></interface>"
        for i in range(20)
    )
    for p in range(50 - len(manifest_paths())):
        reg.register(
            load_register_xml(
                (
                    f"<package name='pkg{p}' version='1.0.{p}'><plugins><plugin name='pl'>{itfs}"
                    "</plugin></plugins></package>"
                ).encode()
            )
        )

    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.capacity.store import ModelStore
    from tests.unit.capacity.synth import SPEC, make_frame

    store = ModelStore(work / "capacity")
    first = pipeline.run(load_spec(SPEC), make_frame(), store)
    record = store.load_version("ledger_cpu", first["version"])
    for _ in range(99):
        store.save_version("ledger_cpu", {k: v for k, v in record.items() if k not in ("version", "plot")})

    import requests

    for batch in range(10):
        inputs = [
            {
                "callbackParameter": str(i),
                "type": "host",
                "name": f"host-{batch * 1000 + i:05d}",
                "attributes": {"ip": f"10.{batch}.{i // 250}.{i % 250}", "subnet": "s", "status": "running"},
            }
            for i in range(1000)
        ]
        body = {"requestId": f"bench-{batch}", "operator": "bench", "serviceName": "cmdb/ci/create", "inputs": inputs}
        r = requests.post(
            url + "/cmdb/v1/ci/create", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
        )
        assert r.json()["resultCode"] == "0", r.text[:300]
    return proc, url


def client():
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from airflow_wecube.ui import auth
    from airflow_wecube.ui.app import create_app

    app = create_app()
    for dep in (*auth.READ_PLUGINS, *auth.READ_APPROVALS, *auth.READ_RUNS):
        app.dependency_overrides[dep.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: object()
    app.dependency_overrides[auth.readable_dag_ids] = lambda: None
    return TestClient(app)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wecube-bench-ui-"))
    proc, _ = setup(work)
    try:
        c = client()
        pages = [
            ("plugins", "/", "/api/plugins", {}),
            ("plugins, search", "/", "/api/plugins", {"q": "a1"}),
            ("one interface", "/service", "/api/plugins/service", {"name": "pkg3/pl/a7"}),
            ("manual work", "/inbox", "/api/inbox", {}),
            ("capacity", "/capacity", "/api/capacity", {}),
            ("capacity, one model", "/capacity", "/api/capacity", {"model": "ledger_cpu"}),
            ("cmdb (10,000 hosts)", "/cmdb", "/api/cmdb", {"type": "host"}),
            ("cmdb, search", "/cmdb", "/api/cmdb", {"type": "host", "q": "host-0999"}),
            ("design vs reality", "/designs", "/api/designs", {}),
            ("loop actions", "/actions", "/api/actions", {}),
        ]
        print(
            "| page | HTML median | HTML worst | JSON median | JSON worst | target |\n"
            "| --- | --- | --- | --- | --- | --- |"
        )
        for name, page, api, params in pages:
            cells = []
            for path in (page, api):
                assert c.get(path, params=params).status_code == 200, (path, c.get(path, params=params).text[:300])
                times = []
                for _ in range(N):
                    t = time.perf_counter()
                    r = c.get(path, params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                cells += [f"{statistics.median(times):.0f} ms", f"{max(times):.0f} ms"]
            print(f"| {name} | " + " | ".join(cells) + f" | ≤ {TARGET_MS} ms |")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
