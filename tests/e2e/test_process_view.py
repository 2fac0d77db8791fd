"""The process view under a real ``airflow standalone`` in headless Chromium: every import is drawn
(a WeCube v4 JSON, a real ``.pds``, a BPMN drawing), a run's nodes are coloured by their task
state and follow the run as it goes, a click shows a node, names holding HTML stay text, and the
pages need the Airflow login. The screenshots of docs/ui.md come from here (``docs/img/ui-process*``).

Process ``view_demo`` runs from an app of the sandbox's CMDB, its two task nodes bound to the app
itself: ``host/host/create`` maps its inputs from host entities, so both fail at binding (with the
app recorded as their entity), start and fork succeed, the rest is upstream_failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from airflow_wecube.processes import ProcessStore, read_process_file, validate
from tests.fixtures.browser import AirflowPage, doc_image
from tests.fixtures.paths import PROCDEF, PROCESS_DATA
from tests.fixtures.standalone import NO_ROLE_USER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
EVIL_PROCESS = "<script>document.title='pwned'</script> view demo 演示"
EVIL_NODE = "<img src=x onerror=alert(1)> check hosts"
RED = "rgb(254, 202, 202)"
GREEN = "rgb(187, 247, 208)"
VIEW_APP = "view-demo-app"


def _pds_files() -> list[Path]:
    return sorted(PROCDEF.glob("*.pds")) if PROCDEF.is_dir() else []


@pytest.fixture(scope="module")
def world(standalone, plugin_registry, sandbox):
    from airflow_wecube.datamodel.client import EntityApi
    from tests.e2e.orchestrations.conftest import put_connection

    sa = standalone
    put_connection(
        sa.client(), "wecube_default", {"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token}
    )
    api = EntityApi.at(sandbox.url, sandbox.token)
    if not api.query("cmdb", "app", [{"attrName": "name", "op": "eq", "condition": VIEW_APP}]):
        api.create("cmdb", "app", [{"name": VIEW_APP, "version": "1"}])
    [app] = api.query("cmdb", "app", [{"attrName": "name", "op": "eq", "condition": VIEW_APP}])
    store = ProcessStore(sa.dags_folder / "wecube_processes")
    processes = [
        _bound_to_the_app(validate(p, plugin_registry)) for p in read_process_file(PROCESS_DATA / "v4_view_demo.json")
    ]
    processes += [validate(p, None) for p in read_process_file(PROCESS_DATA / "v4_app_release.json")]
    processes += [validate(p, None) for p in read_process_file(PROCESS_DATA / "view_review.bpmn")]
    pds = [p for f in _pds_files()[:1] for p in read_process_file(f)]
    store.save(processes + pds, replace=True)
    sa.add_dags([REPO / "dags" / "wecube_processes.py"])
    sa.wait_for_dag("wecube_proc_view_demo", timeout=180)
    conf = {"root": app["id"]}
    run = sa.trigger("wecube_proc_view_demo", conf)["dag_run_id"]
    sa.wait_for_run_state("wecube_proc_view_demo", run, "failed", timeout=300)
    return {"sa": sa, "run": run, "processes": {p.key: p for p in processes + pds}, "pds": pds, "conf": conf}


def _bound_to_the_app(process):
    """The task nodes bound to the root app itself, which the sandbox's data model can evaluate."""
    nodes = tuple(
        n.model_copy(update={"routine_expression": "cmdb:app"}) if n.type == "automatic" else n for n in process.nodes
    )
    return process.model_copy(update={"nodes": nodes})


def _get(sa, path: str, user: str | None = None) -> requests.Response:
    headers = {}
    if user:
        r = requests.post(f"{sa.url}/auth/token", json={"username": user, "password": sa.password(user)}, timeout=30)
        r.raise_for_status()
        headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return requests.get(sa.url + path, headers=headers, timeout=60)


def test_pages_need_a_login_and_a_permission(world):
    sa, run = world["sa"], world["run"]
    for path in (
        "/wecube/processes",
        "/wecube/api/processes",
        "/wecube/processes/view_demo",
        "/wecube/api/processes/view_demo",
        "/wecube/api/processes/view_demo/diagram",
        f"/wecube/api/processes/view_demo/runs/{run}",
        f"/wecube/api/processes/view_demo/runs/{run}/nodes/n_fail",
        "/wecube/static/bpmn-js/bpmn-navigated-viewer.production.min.js",
    ):
        assert _get(sa, path).status_code == 401, path
        assert _get(sa, path, NO_ROLE_USER).status_code == 403, path
        assert _get(sa, path, "admin").status_code == 200, path
    listing = _get(sa, "/wecube/api/processes", "admin").json()
    demo = next(r for r in listing["items"] if r["key"] == "view_demo")
    assert demo["last_runs"][0] == {**demo["last_runs"][0], "run_id": run, "state": "failed"}


# ---------------------------------------------------------------------------------------------- browser


class View(AirflowPage):
    """The WeCube pages in headless Chromium, logged in through Airflow's login page."""

    def login(self, user: str = "admin") -> None:
        super().login(user)
        self.d.get_log("browser")  # Airflow's own page is not under test: start the console afresh

    def open(self, path: str) -> None:
        self.d.get(self.sa.url + path)
        self.wait.until(lambda d: d.find_element("css selector", "body").get_attribute("data-drawn"))
        assert self.d.find_element("css selector", "body").get_attribute("data-drawn") == "true", self.d.find_element(
            "id", "drawing-error"
        ).text

    def drawn_ids(self) -> set[str]:
        return set(
            self.d.execute_script(
                "return Array.from(document.querySelectorAll('#canvas [data-element-id]'))"
                ".map(e => e.getAttribute('data-element-id'))"
            )
        )

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def classes(self, element_id: str) -> str:
        return self.d.execute_script(
            "var g = document.querySelector(`#canvas g.djs-element[data-element-id='${arguments[0]}']`);"
            "return g.getAttribute('class')",
            element_id,
        )

    def fill(self, element_id: str) -> str:
        return self.d.execute_script(
            "var g = document.querySelector(`#canvas g.djs-element[data-element-id='${arguments[0]}'] .djs-visual`);"
            "return getComputedStyle(g.firstElementChild).fill",
            element_id,
        )

    def click_node(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By

        self.d.find_element(By.CSS_SELECTOR, f"#canvas g.djs-element[data-element-id='{element_id}'] .djs-hit").click()

    def shot(self, name: str) -> None:
        self.d.save_screenshot(str(doc_image(name)))


@pytest.fixture
def view(world, browser):
    v = View(browser, world["sa"])
    v.login()
    return v


@pytest.mark.parametrize("key", ["app_release", "view_review", "view_demo"])
def test_every_node_is_drawn_by_its_element_id(world, view, key):
    from airflow_wecube.processes.diagram import element_ids

    view.open(f"/wecube/processes/{key}")
    p = world["processes"][key]
    assert set(element_ids(p).values()) <= view.drawn_ids()
    assert view.console_errors() == []
    assert view.d.find_element("css selector", ".bjs-powered-by").is_displayed()  # the bpmn.io mark
    if key == "app_release":
        view.shot("process-v4")


def test_a_real_pds_export_is_drawn(world, view):
    if not world["pds"]:
        pytest.skip(f"the WeCube .pds exports are not at {PROCDEF}")
    p = world["pds"][0]
    view.open(f"/wecube/processes/{p.key}")
    assert {n.id for n in p.nodes} <= view.drawn_ids()
    assert view.console_errors() == []
    view.shot("process-pds")


def test_the_list_links_each_process_and_its_runs(world, view):
    from selenium.webdriver.common.by import By

    view.d.get(world["sa"].url + "/wecube/processes")
    rows = {r.get_attribute("data-key"): r for r in view.d.find_elements(By.CSS_SELECTOR, "#processes tr[data-key]")}
    assert {"view_demo", "app_release", "view_review"} <= set(rows)
    assert EVIL_PROCESS in rows["view_demo"].text and view.d.title != "pwned"
    view.shot("processes")
    rows["view_demo"].find_element(By.CSS_SELECTOR, "a.chip[href*='run_id']").click()
    view.wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-drawn") == "true")
    assert "run_id=" in view.d.current_url


def test_a_run_colours_its_nodes_and_a_click_shows_one(world, view):
    from selenium.webdriver.common.by import By

    view.open(f"/wecube/processes/view_demo?run_id={requests.utils.quote(world['run'], safe='')}")
    assert "st-success" in view.classes("n_start") and "st-success" in view.classes("n_fork")
    assert "st-failed" in view.classes("n_fail") and "st-failed" in view.classes("n_call")
    assert "st-upstream_failed" in view.classes("n_end")
    assert view.fill("n_fail") == RED and view.fill("n_start") == GREEN
    legend = view.d.find_element(By.ID, "legend").text
    assert "waiting for a person" in legend and "failed" in legend and "running" in legend
    # names holding HTML are text: the title is untouched, no <img> was made from a name
    assert view.d.find_element(By.ID, "process-name").text == EVIL_PROCESS and view.d.title != "pwned"
    view.click_node("n_fail")
    panel = view.wait.until(
        lambda d: d.find_element(By.ID, "panel") if "failed" in d.find_element(By.ID, "panel").text else None
    )
    assert panel.find_element(By.TAG_NAME, "h3").text == EVIL_NODE
    assert panel.find_elements(By.TAG_NAME, "img") == []
    assert VIEW_APP in panel.text  # the entity the node recorded
    log = panel.find_element(By.LINK_TEXT, "task log").get_attribute("href")
    assert log.endswith("/tasks/n_fail")
    assert view.console_errors() == []
    view.shot("process-run")


def test_the_drawing_follows_a_run_as_it_goes(world, view):
    sa = world["sa"]
    run = sa.trigger("wecube_proc_view_demo", world["conf"])["dag_run_id"]
    view.open(f"/wecube/processes/view_demo?run_id={requests.utils.quote(run, safe='')}")
    at_load = view.d.execute_script("return JSON.parse(document.getElementById('wecube-view').textContent).run")
    assert at_load["run"]["finished"] is False, "the run ended before the page opened: nothing to follow"
    # no reload: the page polls its JSON twin until the run ends
    view.wait.until(lambda d: "st-upstream_failed" in view.classes("n_end"))
    view.wait.until(lambda d: "st-failed" in view.classes("n_fail"))  # the other branch may end it first
    view.wait.until(lambda d: d.find_element("id", "run-state").text == "failed")
    assert view.console_errors() == []
