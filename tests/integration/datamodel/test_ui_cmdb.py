"""The UI's CMDB listing reads one page through the entity API, not every record of the type."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_cmdb_listing_reads_only_its_page(ui_client, wecube_conn, sandbox, topology, entity_api):  # noqa: F811
    _, total = entity_api.page("cmdb", "host", size=1)
    sandbox.clear_calls()
    listing = ui_client.get("/api/cmdb", params={"type": "host", "limit": 2, "offset": 3}).json()
    assert listing["total"] == total >= 7 and listing["offset"] == 3 and len(listing["items"]) == 2
    host = listing["items"][0]
    assert set(host) == {"guid", "type", "name", "attributes"} and "ip" in host["attributes"]
    calls = sandbox.calls()
    assert [c["serviceName"] for c in calls if c["serviceName"]] == []  # not the cmdb/ci/query interface
    (query,) = [c for c in calls if c["path"] == "/cmdb/entities/host/query"]
    assert query["inputs"]["pageable"] == {"startIndex": 3, "pageSize": 2}
    # a search still looks into every record's attributes
    found = ui_client.get("/api/cmdb", params={"type": "host", "q": f"10.0.2.1{2}"}).json()
    assert topology["h2"] in {i["guid"] for i in found["items"]}
