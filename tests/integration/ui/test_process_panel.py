"""The node panel of the process page in headless Chromium, over a run that recorded what the
process runtime records (tests/unit/ui/dags/process_view_run.py): bound entities, per-entity
request and answer masked, keys and values holding HTML shown as text.

The WeCube app is served on loopback by uvicorn with Airflow's login and permission checks answered
"yes" (tests/fixtures/ui_app.py); tests/e2e/test_process_view.py runs the real ones under
``airflow standalone``.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pytest

from tests.fixtures.processes import free_port
from tests.unit.ui.test_processes import demo_run, store  # noqa: F401 - fixtures


@pytest.fixture
def served(store):  # noqa: F811
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
    # (this bare server has no favicon; Airflow serves one)
    errors = [
        e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]
    ]
    assert errors == []
