"""The closed loop under the shared ``airflow standalone``: an account service on three sandbox hosts,
scraped by the session's Prometheus with the rollout's ``AccountServiceDown`` rule (``for`` 2 s), the
session's Alertmanager delivering to the standalone's ``POST /wecube/alerts`` (group_wait 1 s), and
``wecube_remediate_instance`` deployed.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.orchestrations.rollout import app_attributes, down_alert, job_name
from airflow_wecube.util.airflow_api import AirflowAPIError
from tests.e2e.orchestrations.conftest import orchestrations  # noqa: F401  (the shared standalone, wired)

REPO = Path(__file__).resolve().parents[3]
RUNBOOK = "wecube_remediate_instance"
APP = "account-service"
ALERT = down_alert(APP)
JOB = job_name(APP)
HOSTS = ("acct-fix", "acct-gone", "acct-off")


class Loop:
    def __init__(self, o, asset_id: int, instances: dict[str, dict], alertmanager):
        self.o, self.sa, self.sandbox, self.prometheus = o, o.sa, o.sandbox, o.prometheus
        self.alertmanager = alertmanager
        self.asset_id = asset_id
        self.instances = instances  # host name -> deploy output

    # -- alerts ---------------------------------------------------------------------------------

    def events(self) -> list[dict]:
        """The alert's last 100 Asset events (what the webhook recorded), oldest first: the newest are
        read, since earlier tests of the session (50 alerts in one delivery) recorded many."""
        newest = self.sa.client().asset_events(asset_id=self.asset_id, limit=100, order_by="-timestamp")
        return newest[::-1]

    def resolved(self, alert: dict, timeout: float = 120) -> dict:
        """Wait until Alertmanager delivered the resolution of ``alert`` (its Asset event): until then
        Alertmanager counts the instance's alert as notified firing and holds back a new crash."""

        def check():
            for e in self.read(self.events, "events"):
                x = e["extra"]
                if (x.get("fingerprint"), x.get("startsAt"), x.get("status")) == (
                    alert["fingerprint"],
                    alert["startsAt"],
                    "resolved",
                ):
                    return e
            return None

        return self.sa.wait_for(check, timeout, "the alert's resolution delivered", interval=1)

    def redeliver(self, event: dict) -> dict:
        """Record the same alert again as a new Asset event (a delivery the webhook's dedupe did not catch)."""
        body = {"asset_id": self.asset_id, "extra": {k: v for k, v in event["extra"].items() if k != "from_rest_api"}}
        return self.sa.client().request("POST", "/api/v2/assets/events", json=body)

    # -- runs ---------------------------------------------------------------------------------

    def read(self, fn, what: str, timeout: float = 120):
        """``fn()``, again while the API server answers too slowly (a busy machine); API errors raise."""

        def attempt():
            try:
                return (fn(),)
            except WeCubeError as e:
                if isinstance(e, AirflowAPIError):
                    raise
                return None

        return self.sa.wait_for(attempt, timeout, what, interval=1)[0]

    def runs(self) -> list[dict]:
        path = f"/api/v2/dags/{RUNBOOK}/dagRuns"
        return self.read(lambda: self.sa.client().request("GET", path, params={"limit": 100}), "runs")["dag_runs"]

    def run_for(self, before: set[str], match, timeout: float = 180) -> tuple[dict, dict]:
        """The first new run (not in ``before``) whose triage has an entry ``match(entry)`` accepts:
        ``(run, entry)``. Resolved alerts start runs too, so runs are told apart by what they carry."""

        def check():
            for run in sorted(self.runs(), key=lambda r: r["run_after"]):
                if run["dag_run_id"] in before:
                    continue
                try:
                    triaged = self.sa.client().xcom(RUNBOOK, run["dag_run_id"], "triage", key="triaged")
                except AirflowAPIError as e:
                    if e.status == 404:
                        continue
                    raise
                except WeCubeError:  # answered too slowly: poll again
                    return None
                for entry in triaged["entries"]:
                    if match(entry):
                        return run, entry
            return None

        return self.sa.wait_for(check, timeout, f"a new {RUNBOOK} run carrying the alert", interval=0.5)

    def firing_run(self, before: set[str], target: str, timeout: float = 180) -> tuple[dict, dict]:
        """The new run carrying a firing alert for ``target`` not seen before."""
        return self.run_for(
            before,
            lambda e: e["instance"] == target and e["status"] == "firing" and e["decision"] != "duplicate",
            timeout,
        )

    def entries(self, run_id: str) -> list[dict]:
        return self.read(lambda: self.sa.client().xcom(RUNBOOK, run_id, "finish", key="remediation"), "entries")

    def message(self, run_id: str) -> str:
        return self.read(lambda: self.sa.client().xcom(RUNBOOK, run_id, "report", key="message"), "message")

    def deploys(self, host: str) -> list[dict]:
        """The deploy calls Airflow made for ``host`` (the fixture's own calls have ``test-`` request ids)."""
        return [
            c
            for c in self.sandbox.calls()
            if c["serviceName"] == "deploy/app/deploy"
            and not str(c["requestId"]).startswith("test-")
            and any(i.get("host") == host for i in c["inputs"])
        ]

    def up(self, target: str) -> str | None:
        q = urllib.parse.urlencode({"query": f'up{{job="{JOB}", instance="{target}"}}'})
        res = self.prometheus.api("query?" + q)["data"]["result"]
        return res[0]["value"][1] if res else None


@pytest.fixture(scope="session")
def loop(orchestrations, alert_webhook):  # noqa: F811
    o = orchestrations
    o.sa.add_dags([REPO / "dags" / f"{RUNBOOK}.py"])
    o.sa.wait_for_dag(RUNBOOK)
    o.plugin(
        "/network/v1/vpc/create",
        [{"callbackParameter": "v", "name": "loop-vpc", "cidr": "10.98.0.0/16", "data_center": "loop-dc"}],
    )
    o.plugin(
        "/network/v1/subnet/create",
        [{"callbackParameter": "s", "name": "loop-subnet", "vpc": "loop-vpc", "zone": "z1", "prefix_length": 24}],
    )
    o.plugin("/host/v1/host/create", [{"callbackParameter": h, "name": h, "subnet": "loop-subnet"} for h in HOSTS])
    deployed = o.plugin(
        "/deploy/v1/app/deploy",
        [{"callbackParameter": h, "host": h, "app": APP, "version": "1.0.0", "rate": 2} for h in HOSTS],
    )
    # what the rollout leaves behind: targets, its rule (with a short `for`), the app's CI
    targets = [d["target"] for d in deployed]
    (o.prometheus.file_sd_dir / f"{JOB}.json").write_text(
        json.dumps([{"targets": targets, "labels": {"job": JOB, "app": APP}}])
    )
    rule = {
        "alert": ALERT,
        "expr": f'up{{job="{JOB}"}} == 0',
        "for": "2s",
        "labels": {"severity": "critical", "app": APP, "job": JOB},
        "annotations": {"summary": "{{ $labels.instance }} of account-service is down"},
    }
    (o.prometheus.rules_dir / f"{JOB}.yml").write_text(yaml.safe_dump({"groups": [{"name": JOB, "rules": [rule]}]}))
    urllib.request.urlopen(urllib.request.Request(o.prometheus.url + "/-/reload", method="POST"), timeout=10).close()
    ci = o.plugin("/cmdb/v1/ci/create", [{"callbackParameter": "a", "type": "app", "name": APP}])[0]
    attrs = app_attributes({"app": APP, "version": "1.0.0"}, deployed, targets, {"group": JOB}, "manual__e2e")
    o.plugin("/cmdb/v1/ci/update", [{"callbackParameter": "a", "guid": ci["guid"], "attributes": attrs}])

    loop = Loop(o, 0, {d["host"]: d for d in deployed}, alert_webhook)
    for d in deployed:
        o.sa.wait_for(lambda d=d: loop.up(d["target"]) == "1", 60, f"{d['target']} scraped")
    # the Asset's name is the URI as written (Airflow adds a "/" to the uri it stores)
    assets = o.sa.client().request("GET", "/api/v2/assets", params={"name_pattern": ALERT})
    [asset] = [a for a in assets["assets"] if a["name"] == f"wecube-alert://{ALERT}"]
    loop.asset_id = asset["id"]
    return loop
