"""The DAG shape of a stored process: one task per node, one dependency per flow, joins that fit."""

from __future__ import annotations

from airflow_wecube.processes import read_process_file, validate
from airflow_wecube.processes.dag_shape import dag_shape, task_ids
from airflow_wecube.processes.model import Node
from tests.fixtures.paths import PROCESS_DATA


def test_v4_process_shape():
    main, _ = read_process_file(PROCESS_DATA / "v4_app_release.json")
    shape = dag_shape(validate(main, None))
    assert (shape.dag_id, shape.display_name) == ("wecube_proc_app_release", "应用发布 app release")
    assert shape.tags == ("wecube", "wecube-process", "demo", "release")
    assert "version `v1`" in shape.doc_md and "`cmdb:app`" in shape.doc_md
    assert [t.task_id for t in shape.tasks] == [n.id for n in main.nodes]
    assert set(shape.dependencies) == {(e.source, e.target) for e in main.edges}
    rules = {t.task_id: t.trigger_rule for t in shape.tasks}
    assert rules["n_dmerge"] == "none_failed_min_one_success"
    assert {r for k, r in rules.items() if k != "n_dmerge"} == {"all_success"}
    assert {t.task_id: t.display_name for t in shape.tasks}["n_start"] == "开始"


def test_task_ids_are_airflow_safe_and_unique():
    main, _ = read_process_file(PROCESS_DATA / "v4_app_release.json")
    odd = main.model_copy(
        update={
            "nodes": (
                *main.nodes,
                Node(id="节点 1", type="automatic"),
                Node(id="节点 2", type="automatic"),
                Node(id="a/b", type="automatic"),
                Node(id="a_b", type="automatic"),
            )
        }
    )
    ids = task_ids(odd)
    assert (ids["a/b"], ids["a_b"]) == ("a_b", "a_b_2")
    assert ids["节点 1"] == "___1" and ids["节点 2"] == "___2"
    assert len(set(ids.values())) == len(ids)


def test_bpmn_shape_follows_the_inlined_flow():
    [p] = read_process_file(PROCESS_DATA / "release_review.bpmn")
    shape = dag_shape(p)
    assert ("Settle", "Deploy") in shape.dependencies and len(shape.tasks) == 10


def test_every_real_export_has_its_nodes_and_flows(procdef_corpus, procdef_registry):
    for path in sorted(procdef_corpus.glob("*.pds")):
        [p] = read_process_file(path)
        shape = dag_shape(validate(p, procdef_registry))
        assert len(shape.tasks) == len(p.nodes) and len(shape.dependencies) == len(p.edges), path.name
        assert shape.dag_id == f"wecube_proc_{p.key}" and shape.display_name == p.name
