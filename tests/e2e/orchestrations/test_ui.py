"""The WeCube section of the Airflow UI under a real ``airflow standalone``, after the two orchestrations.

Part one checks the access rules over HTTP (401 without a login, 403 without a permission, escaping,
no secret). Part two is a real browser: headless Chromium logs in through Airflow's login page,
opens each WeCube page from Airflow's nav and checks what it shows. The same run writes the
screenshots used in docs/ui.md (``docs/img/ui-*.png``).
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.fixtures.browser import AirflowPage, doc_image
from tests.fixtures.standalone import NO_ROLE_USER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EVIL = "<script>document.title='pwned'</script>"
EVIL_MANIFEST = f"""
package: evil-docs
version: 1.0.0
plugins:
  - name: probe
    interfaces:
      - action: echo
        path: /faults/v1/fault/echo
        description: "{EVIL} shown as text"
        inputs:
          - {{name: secret_token, datatype: string, required: true, sensitive: true, description: "a secret input"}}
        outputs:
          - {{name: message}}
"""
JSON_ENDPOINTS = (
    "/wecube/api/plugins",
    "/wecube/api/inbox",
    "/wecube/api/capacity",
    "/wecube/api/cmdb",
    "/wecube/api/designs",
    "/wecube/api/actions",
)
PAGES = ("/wecube/", "/wecube/inbox", "/wecube/capacity", "/wecube/cmdb", "/wecube/designs", "/wecube/actions")


@pytest.fixture(scope="module")
def world(orchestrations, tmp_path_factory):
    """After the orchestrations: a network built, a rollout waiting for approval, two capacity fits."""
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.capacity.store import ModelStore
    from airflow_wecube.registry import Registry, load_manifest
    from tests.unit.capacity.synth import SPEC, make_frame

    sa = orchestrations.sa
    registry = Registry(sa.env.get("WECUBE_REGISTRY_PATH") or sa.dags_folder / "wecube_plugins")
    manifest = tmp_path_factory.mktemp("evil") / "evil.yaml"
    manifest.write_text(EVIL_MANIFEST)
    registry.register(load_manifest(manifest), replace=True)

    store = ModelStore(sa.env["AIRFLOW__WECUBE__CAPACITY_STORE"])
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store)
    drifted = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)

    net = sa.trigger("wecube_network_build")["dag_run_id"]  # the default design, as in the demo
    try:
        orchestrations.wait_run("wecube_network_build", net, "success", timeout=240)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{sa.task_log('wecube_network_build', net, 'plan')}") from None
    rollout = sa.trigger("wecube_app_rollout", conf={"host_count": 1})["dag_run_id"]
    approval = orchestrations.wait_open("wecube_app_rollout", rollout)
    yield {
        "sa": sa,
        "network_run": net,
        "rollout_run": rollout,
        "approval": approval,
        "baseline": first["version"],
        "drifted": drifted["version"],
        "secret": orchestrations.sandbox.token,
    }
    try:  # leave nothing parked for other tests: reject the rollout
        sa.client("alice").respond("wecube_app_rollout", rollout, "approve", "Reject")
    except Exception:
        pass


def _get(sa, path: str, user: str | None = None, **params) -> requests.Response:
    headers = {}
    if user:
        r = requests.post(f"{sa.url}/auth/token", json={"username": user, "password": sa.password(user)}, timeout=30)
        r.raise_for_status()
        headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return requests.get(sa.url + path, headers=headers, params=params, timeout=60)


def test_every_page_and_json_twin_needs_a_login_and_a_permission(world):
    sa = world["sa"]
    for path in (*JSON_ENDPOINTS, *PAGES):
        assert _get(sa, path).status_code == 401, path
        assert _get(sa, path, NO_ROLE_USER).status_code == 403, path
        assert _get(sa, path, "admin").status_code == 200, path


def test_json_twins_show_the_runs_data_and_no_secret(world):
    sa = world["sa"]
    plugins = _get(sa, "/wecube/api/plugins", "admin", limit=500).json()
    names = {r["service"] for r in plugins["items"]}
    assert {"cmdb/ci/query", "network/vpc/create", "deploy/app/deploy"} <= names
    assert plugins["total"] == len(plugins["items"])
    detail = _get(sa, "/wecube/api/plugins/service", "admin", name="network/subnet/create").json()
    assert detail["last_calls"] and detail["last_calls"][0]["dag_id"] == "wecube_network_build"
    assert detail["last_calls"][0]["state"] == "success"

    inbox = _get(sa, "/wecube/api/inbox", "admin").json()
    assert ("wecube_app_rollout", world["rollout_run"], "approve") in {
        (r["dag_id"], r["run_id"], r["task_id"]) for r in inbox["items"]
    }

    capacity = _get(sa, "/wecube/api/capacity", "admin").json()
    [model] = [m for m in capacity["items"] if m["model"] == "ledger_cpu"]
    assert model["baseline_version"] == world["baseline"]
    assert model["baseline"]["formula"].startswith("cpu% = 0.145*accounts_opened + 0.267*accounts_closed")
    assert model["drift"][0]["version"] == world["drifted"] and model["drift"][0]["found"] is True

    subnets = _get(sa, "/wecube/api/cmdb", "admin", type="subnet").json()
    assert {s["name"] for s in subnets["items"]} >= {"vpc-sz-prod-web-sz-a", "vpc-sz-prod-db-sz-b"}
    designs = _get(sa, "/wecube/api/designs", "admin").json()
    assert designs["errors"] == [] and designs["summary"]["missing"] == 0, designs
    assert designs["summary"]["ok"] == len(designs["network"])

    actions = _get(sa, "/wecube/api/actions", "admin").json()
    assert actions["items"] == [] and actions["total"] == 0

    everything = json.dumps([plugins, detail, inbox, capacity, subnets, designs])
    assert world["secret"] not in everything


def test_text_from_manifests_is_escaped(world):
    page = _get(world["sa"], "/wecube/", "admin", q="evil-docs").text
    assert "&lt;script&gt;document.title" in page and EVIL not in page


# ---------------------------------------------------------------------------------------------- browser


class UI(AirflowPage):
    """Airflow's UI in headless Chromium: log in, open a WeCube page from the nav, read its frame."""

    def open_from_nav(self, entry: str, route: str) -> None:
        """Plugins → WeCube → ``entry`` in Airflow's nav; then work inside the page's frame."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        self.d.switch_to.default_content()
        self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[aria-label=Plugins]"))).click()
        self.wait.until(
            EC.element_to_be_clickable((By.XPATH, "//*[@role='menuitem' and normalize-space()='WeCube']"))
        ).click()
        self.wait.until(
            EC.element_to_be_clickable((By.XPATH, f"//a[@role='menuitem' and normalize-space()='{entry}']"))
        ).click()
        self.wait.until(lambda d: f"/plugin/{route}" in d.current_url)
        self.wait.until(EC.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "body h1")))

    def text(self, css: str = "body") -> str:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, css).text

    def click(self, css: str | None = None, link_text: str | None = None) -> None:
        """Follow a link inside the frame and wait until the new page is there."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        old = self.d.find_element(By.TAG_NAME, "html")
        if link_text:
            self.d.find_element(By.LINK_TEXT, link_text).click()
        else:
            self.d.find_element(By.CSS_SELECTOR, css).click()
        self.wait.until(EC.staleness_of(old))
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "body h1")))

    def shot(self, name: str) -> None:
        """A screenshot of the whole window (Airflow's nav and the page) for docs/ui.md."""
        self.d.switch_to.default_content()
        self.d.save_screenshot(str(doc_image(name)))
        from selenium.webdriver.common.by import By

        self.d.switch_to.frame(self.d.find_element(By.TAG_NAME, "iframe"))


def _alive(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        _ = element.tag_name  # a WebDriver round trip: raises once the element left the page
        return True
    except StaleElementReferenceException:
        return False


def test_a_person_reads_everything_from_the_airflow_nav(world, browser):
    sa = world["sa"]
    ui = UI(browser, sa)
    ui.login()

    # plugins: every registered interface, typed parameters, escaped descriptions
    ui.open_from_nav("Plugins", "wecube")
    services = ui.text("#services")
    for name in ("cmdb/ci/query", "network/subnet/create", "deploy/app/deploy", "host/host/create"):
        assert name in services
    assert "1.0.0" in ui.text("#packages")
    ui.shot("plugins")
    ui.click(link_text="network/subnet/create")
    assert ui.text("#service-name") == "network/subnet/create"
    assert "prefix_length" in ui.text("body")
    calls = ui.text("#last-calls")
    assert "wecube_network_build" in calls and "success" in calls
    ui.shot("service")

    ui.click("a[data-page=plugins]")  # the section's own tabs, inside the frame
    box = browser.find_element("css selector", "input[name=q]")
    box.send_keys("evil-docs")
    old = browser.find_element("tag name", "html")
    box.submit()
    ui.wait.until(lambda d: not _alive(old))
    assert "evil-docs" in ui.text("#services")
    assert EVIL in ui.text("#services")  # shown as text ...
    assert browser.execute_script("return document.title") != "pwned"  # ... never run

    # manual work: the rollout's approval, linked to Airflow's Required Actions
    ui.open_from_nav("Manual work", "wecube-inbox")
    inbox = ui.text("#inbox")
    assert world["rollout_run"] in inbox and "wecube_app_rollout" in inbox and "approve" in inbox
    link = browser.find_element("css selector", "#required-actions").get_attribute("href")
    assert link.endswith("/required_actions")
    ui.shot("inbox")

    # capacity: the formula with its 95 % intervals, the plot, the drift verdict
    ui.open_from_nav("Capacity models", "wecube-capacity")
    body = ui.text("body")
    assert "cpu% = 0.145*accounts_opened + 0.267*accounts_closed" in body
    assert "95 % INTERVAL" in body.upper() and "R²" in body and world["baseline"] in body
    assert "drift" in ui.text(".drift")
    plot = browser.find_element("css selector", "img.plot")
    ui.wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", plot) > 0)
    ui.shot("capacity")

    # CMDB: the records the network build created, one record's attributes
    ui.open_from_nav("CMDB", "wecube-cmdb")
    ui.click("a[data-type=subnet]")
    assert "vpc-sz-prod-web-sz-a" in ui.text("#cis")
    ui.shot("cmdb")
    ui.click(link_text="vpc-sz-prod-web-sz-a")
    assert ui.text("#ci-name").startswith("vpc-sz-prod-web-sz-a")
    attributes = ui.text("#attributes").lower()
    assert "cidr" in attributes and "10.20." in attributes

    # design vs reality: every designed resource is there, drawn as a picture
    ui.open_from_nav("Design vs reality", "wecube-designs")
    rows = browser.find_elements("css selector", "#network tr[data-status]")
    assert rows and {r.get_attribute("data-status") for r in rows} <= {"ok", "extra"}
    assert "data center dc-shenzhen" in ui.text("#picture") and "vpc-sz-prod-db-sz-b" in ui.text("#picture")
    ui.shot("designs")

    # loop actions: nothing yet, said plainly (tests/e2e/remediation, which starts runbook runs on this
    # standalone, is collected after orchestrations/ and the e2e tests run in collection order on one
    # worker: xdist group "e2e", tests/conftest.py)
    ui.open_from_nav("Loop actions", "wecube-actions")
    assert "No remediation runs yet" in ui.text("#actions-empty")
    ui.shot("actions")

    # dark mode follows Airflow's choice
    browser.switch_to.default_content()
    browser.execute_script("window.localStorage.setItem('theme', 'dark')")  # what Airflow's theme switch stores
    browser.get(sa.url + "/")
    ui.wait.until(lambda d: "dark" in d.find_element("tag name", "html").get_attribute("class").split())
    ui.open_from_nav("Capacity models", "wecube-capacity")
    assert browser.execute_script("return document.documentElement.getAttribute('data-theme')") == "dark"
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background in ("rgb(9, 9, 11)",), background
    ui.shot("dark")
