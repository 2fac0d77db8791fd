"""Three-way differences: design, CMDB record, and what the owning plugin reports."""

from __future__ import annotations

from airflow_wecube.reconcile.differences import compare_apps, compare_network, differences, expected_network, summary

DESIGN = {
    "data_center": "dc",
    "vpc": {"name": "v", "cidr": "10.0.0.0/16"},
    "zones": ["a"],
    "subnets": [{"tier": "web", "prefix_length": 24}, {"tier": "db", "prefix_length": 24}],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}],
    "security_groups": [{"name": "sg", "rules": []}],
}


def ci(guid, name, **attributes):
    return {"guid": guid, "name": name, "attributes": attributes}


def item(guid, name, **attrs):
    return {"guid": guid, "name": name, **attrs}


def test_each_class_from_the_three_sources():
    expected = expected_network(DESIGN)
    records = {
        "data_center": [ci("g0", "dc")],
        "vpc": [ci("g1", "v", cidr="10.0.0.0/16", data_center="dc")],
        "subnet": [
            ci("g2", "v-web-a", vpc="v", zone="a", cidr="10.0.0.0/24"),
            ci("g3", "v-db-a", vpc="v", zone="a", cidr="10.0.1.0/24"),  # the plugin lost it
            ci("g9", "gone", vpc="v", zone="a", cidr="10.0.9.0/24"),  # not designed, not real: stale
        ],
        "route_table": [ci("g4", "rt", vpc="v", routes=[{"destination": "0.0.0.0/0", "target": "nat"}])],
        "security_group": [],  # the record of sg was removed
    }
    real = {
        "vpc": [item("g1", "v", cidr="10.0.0.0/16", data_center="dc")],
        "subnet": [item("g2", "v-web-a", vpc="v", zone="a", cidr="10.0.0.0/24")],
        "route_table": [item("g4", "rt", vpc="v", routes=[{"destination": "0.0.0.0/0", "target": "internet"}])],
        "security_group": [item("g5", "sg", vpc="v", rules=[]), item("g6", "stray", vpc="v", rules=[])],
    }
    rows = {r["name"]: r for r in compare_network(expected, records, real)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "dc": "ok",
        "v": "ok",
        "v-web-a": "ok",
        "v-db-a": "missing",
        "rt": "changed",
        "sg": "stale_record",
        "stray": "extra",
        "gone": "stale_record",
    }
    assert rows["rt"]["diff"] == [
        {
            "attribute": "routes",
            "designed": [{"destination": "0.0.0.0/0", "target": "nat"}],
            "actual": [{"destination": "0.0.0.0/0", "target": "internet"}],
        }
    ]
    assert rows["sg"]["detail"] == "the plugin has it, the CMDB has no record of it"
    assert rows["gone"]["detail"] == "the CMDB records it, the plugin does not have it"
    assert rows["v-db-a"]["inputs"]["prefix_length"] == 24 and rows["stray"]["key"] == "security_group/stray"
    assert summary(rows.values()) == {"ok": 3, "missing": 1, "changed": 1, "extra": 1, "stale_record": 2}
    assert len(differences(rows.values())) == 5


def test_without_a_plugin_query_the_record_stands_in_for_reality():
    expected = expected_network(DESIGN)
    records = {"subnet": [ci("g2", "v-web-a", vpc="v", zone="a", cidr="10.0.0.0/25")]}
    rows = {r["name"]: r for r in compare_network(expected, records, {"subnet": None})}
    assert rows["v-web-a"]["status"] == "changed"
    assert rows["v-web-a"]["diff"] == [{"attribute": "prefix_length", "designed": 24, "actual": 25}]


def app_ci(name, hosts, version="1.0"):
    instances = [{"host": h, "guid": f"i-{h}", "target": f"127.0.0.1:{n}", "url": ""} for n, h in enumerate(hosts)]
    return {"guid": f"a-{name}", "name": name, "attributes": {"version": version, "instances": instances}}


def inst(app, host, n, status="running", version="1.0", alive="Y"):
    return {
        "app": app,
        "host": host,
        "guid": f"i-{host}",
        "target": f"127.0.0.1:{n}",
        "status": status,
        "version": version,
        "host_alive": alive,
    }


def test_app_instances_against_the_deploy_plugin():
    apps = [app_ci("shop", ["shop-1", "shop-2", "shop-3"])]
    hosts = [ci("h1", "shop-1", subnet="sn")]
    running = [
        inst("shop", "shop-1", 0),
        inst("shop", "shop-2", 1, status="failed", alive="N"),
        inst("shop", "shop-3", 2, version="0.9"),
        inst("shop", "shop-7", 7),
        inst("other", "o-1", 9),
    ]
    rows = {r["name"]: r for r in compare_apps(apps, running, hosts)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "shop@shop-1": "ok",
        "shop@shop-2": "missing",
        "shop@shop-3": "changed",
        "shop@shop-7": "extra",
    }
    assert "its host is gone" in rows["shop@shop-2"]["detail"]
    assert rows["shop@shop-2"]["design"] == {"app": "shop", "host": "shop-2", "version": "1.0", "subnet": "sn"}
    # the capacity model wants five: two more, named after the highest host seen
    more = {r["name"]: r["status"] for r in compare_apps(apps, running, hosts, {"shop": 5})}
    assert more["shop@shop-8"] == more["shop@shop-9"] == "missing" and "shop@shop-7" in more
