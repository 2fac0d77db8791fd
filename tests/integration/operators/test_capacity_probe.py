"""CapacityProbeOperator against real account-service processes on the sandbox and a real
Prometheus (1 s scrapes): a designed load on the canary, the fit, the verdict against the stored
baseline. One canary app per version, all on one host; each probe runs ~25 s of load."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from airflow_wecube.capacity.store import ModelStore
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.operators.capacity import CapacityProbeOperator
from tests.integration.sandbox.helpers import one, uniq

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SPEC_FILE = Path(__file__).resolve().parents[3] / "dags" / "capacity" / "account_service.yml"
APP = "probe-svc"
JOB = f"wecube_app_{APP}"


@pytest.fixture(scope="module")
def host(sandbox):
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.92.0.0/16", data_center="dc-probe")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    made = one(sandbox, "/host/v1/host/create", name=uniq("probe-host"), subnet=subnet["guid"])
    yield made
    sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "x", "host": made["guid"]}])


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The demo's spec, on this test's Prometheus job."""
    text = SPEC_FILE.read_text().replace('job="wecube_app_account-service"', f'job="{JOB}"')
    path = tmp_path_factory.mktemp("spec") / "account_service.yml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ModelStore(tmp_path_factory.mktemp("models"))


def canary(sandbox, host, version: str, monitored: bool = True) -> dict:
    """Deploy ``version`` as its own app on the host (a steady, known load) and let Prometheus scrape it."""
    app = f"{APP}-{re.sub(r'[^a-z0-9]', '', version)}"
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version=version, rate=5, wave=0.5)
    if monitored:
        PrometheusHook().register_targets(JOB, [out["target"]], {"app": app})
    return out


def probe(spec, store, deployed, **kwargs) -> dict:
    args = {"scrape_interval": 1, "steps": 8, "hold_intervals": 4, **kwargs}
    op = CapacityProbeOperator(task_id="probe", spec=spec, canary=[deployed], store=store.root, notifiers=[], **args)
    return op.execute({})


def app_state(deployed) -> dict:
    """The load the app runs, as it reports it."""
    got = requests.get(deployed["url"] + "/", timeout=5).json()
    return {k: got[k] for k in ("open_rate", "close_rate", "transfer_rate", "wave")}


def test_probe_verdicts(sandbox, host, spec, store, wecube_conn, prometheus_conn, plugin_registry):
    model = "account_service_canary"
    # 1.0.0, first release: passes and becomes the baseline
    v1 = canary(sandbox, host, "1.0.0")
    before = app_state(v1)
    first = probe(spec, store, v1)
    assert first["verdict"] == "pass" and first["accepted"] is True
    assert store.baseline_version(model) == first["version"]
    assert first["app_version"] == "1.0.0" and first["instances"] == [v1["target"]]
    coefs = {r["name"]: r for r in first["coefficient_table"]}
    ratio = coefs["accounts_closed"]["new"]["value"] / coefs["accounts_opened"]["new"]["value"]
    assert 1.5 < ratio < 2.6, first["report_markdown"]  # the true close/open cost ratio is 2
    # the load that ran before is back (rates and the slow wave)
    assert app_state(v1) == before and before["wave"] == 0.5
    # stored with the version: the fit, the plot, the Markdown report
    assert Path(first["plot"]).stat().st_size > 1000
    assert Path(first["report"]).read_text() == first["report_markdown"]
    assert len(first["steps"]) == 8 and all(n >= 2 for n in first["samples_per_step"])

    # 1.1.0+slowclose doubles the close cost: a regression naming the close coefficient
    slow = probe(spec, store, canary(sandbox, host, "1.1.0+slowclose"))
    assert slow["verdict"] == "regression" and slow["coefficients"] == ["accounts_closed"], slow["report_markdown"]
    assert "coefficient accounts_closed rose" in slow["reasons"][0]
    assert "**REGRESSION**" in slow["report_markdown"] and slow["accepted"] is False
    assert store.baseline_version(model) == first["version"]

    # +transfers: transfers cost CPU the model does not know: a new factor
    extra = probe(spec, store, canary(sandbox, host, "1.0.1+transfers"))
    assert extra["verdict"] == "new_factor" and extra["new_factors"] == ["accounts_transferred"], extra[
        "report_markdown"
    ]
    assert store.baseline_version(model) == first["version"]

    # too little data (the canary is not scraped): a clear error, nothing stored, the baseline unchanged
    from airflow.sdk.exceptions import AirflowFailException

    versions = store.versions(model)
    dark = canary(sandbox, host, "1.0.2", monitored=False)
    unscraped = "Prometheus does not scrape the canary .*register the canary's target.*Nothing was changed"
    with pytest.raises(AirflowFailException, match=unscraped):
        CapacityProbeOperator(
            task_id="probe",
            spec=spec,
            canary=[dark],
            store=store.root,
            scrape_interval=1,
            steps=6,
            hold_intervals=3,
            notifiers=[],
        ).execute({})
    assert store.versions(model) == versions and store.baseline_version(model) == first["version"]
    assert app_state(dark) == before  # its load was never changed
    # too few samples: a probe that thinks Prometheus scrapes 4 times faster than it does gets rate
    # windows with fewer than two scrapes in them
    too_few = r"only \d+ clean sample\(s\).*fewer than the 16.*baseline is unchanged"
    with pytest.raises(AirflowFailException, match=too_few):
        probe(spec, store, v1, scrape_interval=0.25, steps=6, hold_intervals=3)
    assert store.versions(model) == versions and store.baseline_version(model) == first["version"]
    assert app_state(v1) == before
    print(json.dumps({k: first[k] for k in ("duration_seconds", "n", "formula")}))
