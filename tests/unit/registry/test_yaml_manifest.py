from __future__ import annotations

import pytest

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.yaml_manifest import load_yaml_manifest

GOOD = """\
package: greeter
version: 0.3.0
description: says hello
plugins:
  - name: hello
    interfaces:
      - action: say
        path: /hello/say
        method: POST
        inputs:
          - {name: who, datatype: string, required: true}
          - {name: api_key, sensitive: true}
        outputs:
          - {name: greeting}
      - action: wait
        path: /hello/wait
        async: true
        type: APPROVAL
"""


def test_good_manifest():
    pkg = load_yaml_manifest(GOOD)
    assert pkg.source_format == "yaml"
    say = pkg.services()["greeter/hello/say"].interface
    assert say.inputs[0].required and say.inputs[1].sensitive
    wait = pkg.services()["greeter/hello/wait"].interface
    assert wait.is_async and wait.type == "APPROVAL"


def test_version_override_and_placeholder():
    text = GOOD.replace("0.3.0", "'{{PLUGIN_VERSION}}'")
    with pytest.raises(ManifestError, match="placeholder") as e:
        load_yaml_manifest(text, source="m.yaml")
    assert e.value.line == 2
    assert load_yaml_manifest(text, version="2.0").version == "2.0"


def test_error_points_at_line_and_key():
    bad = GOOD.replace("datatype: string", "datatype: strnig")
    with pytest.raises(ManifestError) as e:
        load_yaml_manifest(bad, source="m.yaml")
    assert e.value.line == 11
    assert "line 11 plugins.0.interfaces.0.inputs.0.datatype" in str(e.value)
    assert "m.yaml:11" in str(e.value)


def test_unknown_key_refused():
    with pytest.raises(ManifestError, match="pth") as e:
        load_yaml_manifest(GOOD.replace("path: /hello/wait", "pth: /hello/wait"), source="m.yaml")
    assert e.value.line is not None


def test_malformed_yaml():
    with pytest.raises(ManifestError, match="malformed YAML") as e:
        load_yaml_manifest("package: [unclosed\nversion: 1\n", source="m.yaml")
    assert e.value.line is not None


def test_not_a_mapping():
    with pytest.raises(ManifestError, match="mapping"):
        load_yaml_manifest("- a\n- b\n")


def test_aliases_are_refused_quickly():
    """Nested aliases would expand exponentially (YAML's billion laughs)."""
    import time

    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=False)
        )
        + "package: evil\nversion: 1\nplugins: *i\n"
    )
    t = time.perf_counter()
    with pytest.raises(ManifestError, match="aliases") as e:
        load_yaml_manifest(bomb, source="bomb.yaml")
    assert time.perf_counter() - t < 1.0
    assert e.value.line == 2
