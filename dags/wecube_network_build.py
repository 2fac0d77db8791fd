"""Build a data-center network from a design: VPC → subnets per zone → route tables → security groups.

The design (``params.design``; default: ``designs/network.yml`` beside this file) names a data
center, one VPC with its address space, the availability zones, subnet tiers (one subnet of each
tier per zone, named ``<vpc>-<tier>-<zone>``), route tables and security groups with their rules.
The sandbox ``network`` plugins allocate the subnets with real IPAM (the lowest free block inside
the VPC, never overlapping) and record every item as a CMDB CI.

Every create is idempotent on the item's name, so a rerun of the same design changes nothing: the
same guids come back and the final task reports ``created: 0, updated: 0``. The final task reads
the topology back from the CMDB, checks every subnet lies inside the VPC and that no two overlap,
and returns it (XCom ``return_value``).

The design's shape (required keys, names, no unknown key) is checked when the run is triggered
(Airflow refuses it with the failing field); ``plan`` checks the rest (CIDRs, prefix lengths,
repeats) and refuses unknown conf keys, before any plugin is called.

Needs the sandbox plugins registered and the ``wecube_default`` connection (``make demo`` does both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_wecube.designs.network import DESIGN_SCHEMA, load_design
from airflow_wecube.operators.plugin import WeCubePluginOperator

DESIGN_FILE = Path(__file__).parent / "designs" / "network.yml"


with DAG(
    dag_id="wecube_network_build",
    description="Data center + VPC → subnets per zone (IPAM) → route tables → security groups → CMDB topology",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    max_active_runs=1,  # two builds of one design at once would race on the same names
    tags=["wecube", "network", "example"],
    params={
        "design": Param(
            load_design(DESIGN_FILE),  # read at parse time: one small YAML file
            type="object",
            description="The network design (see dags/designs/network.yml for the fields).",
            **DESIGN_SCHEMA,
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=True)
    def plan(params: dict | None = None, dag_run=None) -> dict[str, Any]:
        """Check the design and turn it into plugin inputs; a bad design fails here, before any call."""
        from airflow_wecube.designs.network import plan_design
        from airflow_wecube.orchestrations.failures import refuse_unknown_conf

        refuse_unknown_conf(dag_run.conf if dag_run else None, dag.params.keys())
        return plan_design((params or {}).get("design"))

    design = plan()

    @task
    def zones(planned: dict) -> list[list[dict[str, Any]]]:
        """The subnet requests grouped by zone: what the subnet fan-out maps over."""
        return planned["subnets_by_zone"]

    vpc = WeCubePluginOperator(task_id="create_vpc", service="network/vpc/create", inputs=design["vpc"])

    # fan-out: one mapped task per zone, each one batched plugin call for that zone's subnets
    subnets = WeCubePluginOperator.partial(
        task_id="create_subnets",
        service="network/subnet/create",
        map_index_template="{{ task.inputs[0]['zone'] if task.inputs else '' }}",
    ).expand(inputs=zones(design))

    route_tables = WeCubePluginOperator(
        task_id="create_route_tables", service="network/route-table/create", inputs=design["route_tables"]
    )
    security_groups = WeCubePluginOperator(
        task_id="create_security_groups", service="network/security-group/create", inputs=design["security_groups"]
    )

    @task
    def topology(vpc_out: dict, subnet_outs: Any, route_table_outs: list, security_group_outs: list) -> dict[str, Any]:
        """Read the topology back from the CMDB, check it, and count what this run changed."""
        from airflow_wecube.designs.network import (
            check_topology,
            describe_topology,
            flatten,
            topology_query,
        )
        from airflow_wecube.hooks.plugin import WeCubePluginHook

        result = WeCubePluginHook().call("cmdb/ci/query", topology_query(vpc_out))
        items = {o["callbackParameter"]: o.get("items") or [] for o in result.outputs}
        summary = check_topology(
            vpc_out, flatten(subnet_outs), route_table_outs or [], security_group_outs or [], items
        )
        print("\n".join(describe_topology(summary)))
        return summary

    vpc >> [subnets, route_tables, security_groups]
    topology(vpc.output, subnets.output, route_tables.output, security_groups.output)
