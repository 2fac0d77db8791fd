"""WeCubePluginOperator and plugin_operator, run with dag.test() against the real sandbox."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.exceptions import ParameterValidationError
from airflow_wecube.operators.plugin import SUCCEEDED_XCOM_KEY, plugin_operator, stable_request_id

pytestmark = pytest.mark.integration


def run_dag(dag_id: str):
    import os

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "dag_plugin_operator.py"))
    assert dag_id in bag.dags, bag.import_errors
    return bag.dags[dag_id].test()


def xcom(dag_id, run_id, task_id, key="return_value", map_index=-1):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key, map_index=map_index)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


def ti_states(dr):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dr.dag_id, run_id=dr.run_id).all()
        return {(t.task_id, t.map_index): t.state for t in tis}


@pytest.fixture(scope="module")
def probe_registered(plugin_registry):
    from pathlib import Path

    from airflow_wecube.registry import load_manifest

    plugin_registry.register(load_manifest(Path(__file__).with_name("probe.yaml")), replace=True)
    return plugin_registry


def test_operator_success_mapping_and_secrets(airflow_db, wecube_conn, probe_registered, sandbox, capfd):
    dr = run_dag("test_plugin_ok")
    assert dr.state == "success", ti_states(dr)
    out = xcom("test_plugin_ok", dr.run_id, "echo")
    assert [o["callbackParameter"] for o in out] == ["a"]
    assert out[0]["message"] == "hello" and out[0]["errorCode"] == "0" and "token" not in out[0]
    assert xcom("test_plugin_ok", dr.run_id, "mapped", map_index=0)["message"] == "one"
    assert [o["message"] for o in xcom("test_plugin_ok", dr.run_id, "mapped", map_index=1)] == ["two", "three"]
    typed = xcom("test_plugin_ok", dr.run_id, "typed")
    assert typed["callbackParameter"] == "app1" and typed["guid"]
    # the plugin got the secret under the stable request id of that task instance...
    rid = stable_request_id("test_plugin_ok", dr.run_id, "echo", -1)
    (call,) = sandbox.calls(rid)
    assert call["inputs"][0]["token"] == "zz-dag-secret-zz"
    # ...but it is in no log line and no XCom
    logs = capfd.readouterr()
    assert "zz-dag-secret-zz" not in logs.out + logs.err
    assert "zz-dag-secret-zz" not in json.dumps(xcom("test_plugin_ok", dr.run_id, "echo", key="plugin_result"))
    rendered = rendered_fields("test_plugin_ok", dr.run_id, "echo")
    assert rendered["inputs"][0]["message"] == "hello"  # rendered fields are stored...
    assert "zz-dag-secret-zz" not in json.dumps(rendered)  # ...with the sensitive value masked
    # `note` is sensitive only because the manifest says so (Airflow does not mask it by name)
    probe_rid = stable_request_id("test_plugin_ok", dr.run_id, "probe", -1)
    assert sandbox.calls(probe_rid)[0]["inputs"][0]["note"] == "qq-innocent-note-qq"
    probe_out = xcom("test_plugin_ok", dr.run_id, "probe")
    assert probe_out["message"] == "visible"
    for blob in (
        logs.out + logs.err,
        json.dumps(probe_out),
        json.dumps(rendered_fields("test_plugin_ok", dr.run_id, "probe")),
    ):
        assert "qq-innocent-note-qq" not in blob


def rendered_fields(dag_id, run_id, task_id):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(RTIF).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        return row.rendered_fields


def test_partial_failure_fails_task_but_keeps_successes(airflow_db, wecube_conn, plugin_registry, capfd):
    dr = run_dag("test_plugin_partial")
    assert dr.state == "failed"
    kept = xcom("test_plugin_partial", dr.run_id, "partial", key=SUCCEEDED_XCOM_KEY)
    assert [o["value"] for o in kept] == ["kept"]
    logs = capfd.readouterr()
    assert "bad: failed on purpose: bad" in logs.out + logs.err


def test_request_id_is_stable_per_task_instance():
    a = stable_request_id("d", "r", "t", -1)
    assert a == stable_request_id("d", "r", "t", -1)
    assert a != stable_request_id("d", "r", "t", 0) != stable_request_id("d", "r2", "t", -1)


def test_plugin_operator_checks_parameters_at_dag_import(plugin_registry):
    Create = plugin_operator("cmdb/ci/create")
    assert "type" in Create.__doc__ and Create.__name__ == "CmdbCiCreateOperator"
    with pytest.raises(ParameterValidationError, match="missing required type"):
        Create(task_id="x", name="n")
    with pytest.raises(ParameterValidationError, match="unknown parameter.*colour"):
        Create(task_id="x", type="t", name="n", colour="red")
    op = Create(task_id="ok", type="t", name="n", retries=2)
    assert op.retries == 2 and op.inputs == {"type": "t", "name": "n"}


@pytest.fixture(scope="module")
def clash_registered(plugin_registry):
    from pathlib import Path

    from airflow_wecube.registry import load_manifest

    plugin_registry.register(load_manifest(Path(__file__).with_name("clash.yaml")), replace=True)
    return plugin_registry


def test_plugin_parameters_named_like_airflow_arguments_leave_them_to_airflow(clash_registered):
    import warnings

    from airflow_wecube.operators import plugin as plugin_module

    plugin_module._WARNED_CLASHES.discard("clash/echo/say")
    with pytest.warns(UserWarning, match=r"clash/echo/say: input parameter\(s\) pool, retries, task_id .*inputs="):
        Say = plugin_operator("clash/echo/say")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugin_operator("clash/echo/say")  # warned once per process, not on every DAG parse
    assert "``pool``, ``retries``, ``task_id`` are named like operator arguments" in " ".join(Say.__doc__.split())
    # Airflow's own arguments keep their meaning...
    op = Say(task_id="say", retries=5, pool="ops", message="hi", inputs={"pool": "p1", "retries": 3, "task_id": "x"})
    assert (op.task_id, op.retries, op.pool) == ("say", 5, "ops")
    # ...and the plugin's parameters of those names go through inputs=, beside plain keywords
    assert op.inputs == {"message": "hi", "pool": "p1", "retries": 3, "task_id": "x"}
    only_inputs = Say(task_id="t2", retries=1, inputs={"pool": "p", "message": "m"})
    assert only_inputs.retries == 1 and only_inputs.inputs == {"pool": "p", "message": "m"}
    # the class is pinned to one package version: a plugin parameter named version stays the plugin's
    app = Say(task_id="t3", version="2.0.0", inputs={"pool": "p"})
    assert app.version == "1.0.0" and app.inputs == {"pool": "p", "version": "2.0.0"}


def test_clashing_required_parameter_missing_says_to_use_inputs(clash_registered):
    Say = plugin_operator("clash/echo/say")
    with pytest.raises(
        ParameterValidationError, match=r"missing required pool \(named like an Airflow argument: pass it in inputs="
    ):
        Say(task_id="t", pool="default_pool", message="hi")
    with pytest.raises(ParameterValidationError, match="message given both as keyword and in inputs="):
        Say(task_id="t", message="a", inputs={"message": "b", "pool": "p"})


@pytest.fixture(scope="module")
def taskman_registered(plugin_registry, wecube_fixtures):
    from airflow_wecube.registry import load_manifest

    package = load_manifest(wecube_fixtures / "taskman.register.xml", version="0.1.0+corpus")
    plugin_registry.register(package, replace=True)
    return plugin_registry


def test_plugin_operator_leaves_platform_filled_inputs_to_the_platform(taskman_registered):
    """taskman's real create-custom: callbackUrl (system variable) and procInstId (context) are required
    in the manifest, yet the DAG author passes neither; passing them anyway is allowed."""
    CreateCustom = plugin_operator("taskman/task/create-custom", version="0.1.0+corpus")
    op = CreateCustom(task_id="gate", taskName="t", roleName="r", reporter="me")
    assert op.inputs == {"taskName": "t", "roleName": "r", "reporter": "me"}
    assert "(string, filled by the platform)" in CreateCustom.__doc__
    mine = CreateCustom(task_id="gate2", taskName="t", roleName="r", reporter="me", procInstId="P-1")
    assert mine.inputs["procInstId"] == "P-1"
    with pytest.raises(ParameterValidationError, match="missing required roleName"):
        CreateCustom(task_id="gate3", taskName="t", reporter="me")


def test_plugin_operator_demands_a_context_input_airflow_cannot_fill(taskman_registered):
    Create = plugin_operator("taskman/request/create", version="0.1.0+corpus")
    with pytest.raises(ParameterValidationError) as e:
        Create(task_id="req", requestTemplate="t", rootDataId="r", reportRole="ro", reportUser="u")
    assert "missing required isDraftStatus" in str(e.value) and "known: procInstId" in str(e.value)
    Create(task_id="req", requestTemplate="t", rootDataId="r", reportRole="ro", reportUser="u", isDraftStatus="N")
