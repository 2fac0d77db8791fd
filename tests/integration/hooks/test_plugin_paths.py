"""WeCubePluginHook never leaves the plugin's base path, even for a Service built without validation."""

from __future__ import annotations

import pytest

from airflow_wecube.exceptions import WeCubePluginError
from airflow_wecube.hooks.plugin import WeCubePluginHook

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "path", ["/faults/v1/fault/../../../sandbox/calls", "/faults/%2e%2e/%2e%2e/%2e%2e/sandbox/calls", "//sandbox/calls"]
)
def test_path_leaving_the_base_is_refused_before_any_http(wecube_conn, plugin_registry, sandbox, path):
    hook = WeCubePluginHook(registry=plugin_registry, retry_limit=0)
    keep = f"paths-keep-{path}"
    hook.call("faults/fault/echo", {"message": "keep me"}, request_id=keep)
    assert len(sandbox.calls(keep)) == 1
    # DELETE /sandbox/calls would wipe the sandbox's call log: another endpoint of the same server.
    # model_copy does not validate, as a Service built in code or a hand-edited registry file need not be.
    echo = plugin_registry.service("faults/fault/echo")
    svc = echo.model_copy(
        update={"interface": echo.interface.model_copy(update={"path": path, "http_method": "DELETE"})}
    )
    with pytest.raises(WeCubePluginError, match=r"faults/fault/echo: refused to call interface path .*fix the path"):
        hook.call(svc, {"message": "x"}, request_id="paths-evil")
    assert len(sandbox.calls(keep)) == 1
    assert sandbox.calls("paths-evil") == []
