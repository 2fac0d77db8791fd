"""The node panel of the process page in headless Chromium, over a run that recorded what the
process runtime records (tests/unit/ui/dags/process_view_run.py): bound entities, per-entity
request and answer masked, keys and values holding HTML shown as text. And the preview over the
sandbox's CMDB (test_process_preview.py): pick a root entity, a count badge on each node, its
entities in the panel, names holding HTML shown as text.

The WeCube app is served on loopback by uvicorn with Airflow's login and permission checks answered
"yes" (tests/fixtures/ui_app.py); tests/e2e/test_process_view.py runs the real ones under
``airflow standalone``.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from tests.fixtures.processes import free_port
from tests.integration.ui.test_process_preview import EVIL_NODE, world  # noqa: F401 - fixtures
from tests.unit.ui.test_processes import demo_run, store  # noqa: F401 - fixtures


@contextmanager
def serve():
    import uvicorn
    from fastapi import FastAPI

    from tests.fixtures.ui_app import open_app

    app = open_app()
    root = FastAPI()
    root.mount("/wecube", app)
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}/wecube"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def served(store):  # noqa: F811
    with serve() as url:
        yield url


@pytest.fixture
def served_preview(world, airflow_db):  # noqa: F811
    with serve() as url:
        yield url


def _severe(browser) -> list[str]:
    # (this bare server has no favicon; Airflow serves one)
    return [
        e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]
    ]


def test_a_recorded_node_shows_its_entities_and_masked_calls_as_text(served, demo_run, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(f"{served}/processes/view_demo?run_id={quote(demo_run, safe='')}")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-drawn") == "true")
    browser.find_element(By.CSS_SELECTOR, "#canvas g.djs-element[data-element-id='n_call'] .djs-hit").click()
    panel = wait.until(
        lambda d: d.find_element(By.ID, "panel") if "Calls" in d.find_element(By.ID, "panel").text else None
    )
    assert panel.find_element(By.TAG_NAME, "h3").text == "create hosts"
    assert "web-1 (host_1)" in panel.find_element(By.CSS_SELECTOR, ".entities").text
    calls = panel.find_element(By.CSS_SELECTOR, ".calls").text
    assert '"password": "***"' in calls and "hunter2" not in browser.page_source
    assert '"<b>note</b>": "<script>x()</script>"' in calls  # as text, not markup
    assert panel.find_elements(By.CSS_SELECTOR, "b, script") == []
    assert "success" in panel.text
    assert _severe(browser) == []


def test_the_preview_badges_each_node_and_lists_its_entities_as_text(served_preview, world, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    subnet, hosts = world
    wait = WebDriverWait(browser, 30)
    browser.get(f"{served_preview}/processes/pv_ui")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-drawn") == "true")
    assert not browser.find_element(By.ID, "preview-root").is_displayed()  # opening the page reads no CMDB
    browser.find_element(By.ID, "preview-load").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-candidates") == "ready")
    assert browser.find_elements(By.CSS_SELECTOR, ".preview-badge") == []  # nothing before a root is picked
    select = Select(browser.find_element(By.ID, "preview-root"))
    assert f"{subnet['name']} ({subnet['id']})" in [o.text for o in select.options]  # HTML shown as text
    select.select_by_value(subnet["id"])
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-preview") == "ready")
    badges = {b.get_attribute("data-node"): b.text for b in browser.find_elements(By.CSS_SELECTOR, ".preview-badge")}
    assert badges == {"a": "3", "b": "3", "d": "1", "c": "at run"}
    assert subnet["name"] in browser.find_element(By.ID, "preview-status").text
    element = browser.execute_script(
        "var v = JSON.parse(document.getElementById('wecube-view').textContent).nodes;"
        "return {a: v.a.element_id, c: v.c.element_id};"
    )
    node_a = browser.find_element(By.CSS_SELECTOR, f"#canvas g.djs-element[data-element-id='{element['a']}'] .djs-hit")
    badge_a = browser.find_element(By.CSS_SELECTOR, ".preview-badge[data-node='a']").rect
    box = node_a.rect  # the badge sits on the node's top right corner
    assert box["x"] <= badge_a["x"] <= box["x"] + box["width"] and abs(badge_a["y"] + 10 - box["y"]) < 15

    node_a.click()
    panel = wait.until(
        lambda d: (
            d.find_element(By.ID, "panel") if d.find_elements(By.CSS_SELECTOR, "#panel .preview-entities") else None
        )
    )
    assert panel.find_element(By.TAG_NAME, "h3").text == EVIL_NODE
    listed = panel.find_element(By.CSS_SELECTOR, ".preview-entities").text
    assert "Preview: 3 entities from " + subnet["name"] in listed
    assert all(h in listed for h in hosts) and "<i>pv-" in listed
    assert panel.find_elements(By.CSS_SELECTOR, "img, i, b") == []

    browser.find_element(By.CSS_SELECTOR, f"#canvas g.djs-element[data-element-id='{element['c']}'] .djs-hit").click()
    wait.until(lambda d: "evaluated when the node runs" in d.find_element(By.ID, "panel").text)
    assert _severe(browser) == []


def test_a_cmdb_down_is_said_beside_the_picker(served_preview, sandbox, monkeypatch, browser):
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_DEFAULT", json.dumps({"conn_type": "wecube", "host": down}))
    wait = WebDriverWait(browser, 30)
    browser.get(f"{served_preview}/processes/pv_ui")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-drawn") == "true")
    browser.find_element(By.ID, "preview-load").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-candidates") == "error")
    status = browser.find_element(By.ID, "preview-status")
    assert status.text.startswith("cannot list the root entities: HTTP 502: the CMDB's entity API: ")
    assert down in status.text and "preview-error" in status.get_attribute("class")
    assert browser.find_element(By.ID, "preview-load").text == "Try again"
    assert browser.find_elements(By.CSS_SELECTOR, ".preview-badge") == []
