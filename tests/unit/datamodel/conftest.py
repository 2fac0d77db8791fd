"""The real WeCube process exports (``../shared/fixtures/wecube-procdef``), decoded."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

PROCDEF = Path(os.environ.get("WECUBE_PROCDEF_DIR") or REPO.parent / "shared" / "fixtures" / "wecube-procdef")


@pytest.fixture(scope="session")
def procdef_exports() -> dict[str, dict]:
    """``{file name: the export's JSON}`` of every ``.pds`` (base64 of UTF-8 JSON)."""
    files = sorted(PROCDEF.glob("*.pds")) if PROCDEF.is_dir() else []
    if not files:
        reason = f"the WeCube process exports are not at {PROCDEF} (set WECUBE_PROCDEF_DIR to the folder of *.pds)"
        if os.environ.get("WECUBE_REQUIRE_CORPUS") == "1":
            pytest.fail(reason + "; WECUBE_REQUIRE_CORPUS=1 makes it mandatory", pytrace=False)
        pytest.skip(reason)
    return {f.name: json.loads(base64.b64decode(f.read_bytes())) for f in files}


@pytest.fixture(scope="session")
def procdef_plugins() -> list[Path]:
    """The plugin manifests the exports call (``plugins/*.register.xml``)."""
    files = sorted((PROCDEF / "plugins").glob("*.register.xml"))
    if not files:
        reason = f"the manifests of the WeCube process exports are not at {PROCDEF / 'plugins'}"
        if os.environ.get("WECUBE_REQUIRE_CORPUS") == "1":
            pytest.fail(reason + "; WECUBE_REQUIRE_CORPUS=1 makes it mandatory", pytrace=False)
        pytest.skip(reason)
    return files
