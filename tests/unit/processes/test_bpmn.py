"""BPMN 2.0 drawings: what is understood, and every refusal naming line, element, name and a hint."""

from __future__ import annotations

import pytest

from airflow_wecube.processes import ProcessError, read_bytes, read_process_file, validate
from airflow_wecube.processes.bpmn_graph import iso_duration_seconds
from tests.fixtures.paths import PROCESS_DATA

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D">\n'
    '<bpmn:process id="p1" name="p one" isExecutable="true">\n'
    '<bpmn:extensionElements><camunda:properties><camunda:property name="rootEntity" value="cmdb:app"/>'
    "</camunda:properties></bpmn:extensionElements>\n"
)
TAIL = "</bpmn:process>\n</bpmn:definitions>\n"
SERVICE = (
    '<bpmn:extensionElements><camunda:properties><camunda:property name="serviceName" value="host/host/create"/>'
    '<camunda:property name="routineExpression" value="cmdb:app"/></camunda:properties></bpmn:extensionElements>'
)


def doc(body: str) -> bytes:
    return (HEAD + body + TAIL).encode()


def linear(middle: str, first: str = "T", last: str = "T") -> bytes:
    """start -> <middle> -> end, ``first``/``last`` being the middle's entry and exit element ids."""
    return doc(
        '<bpmn:startEvent id="S"/>\n'
        + middle
        + '\n<bpmn:endEvent id="E"/>\n'
        + f'<bpmn:sequenceFlow id="fs" sourceRef="S" targetRef="{first}"/>\n'
        + f'<bpmn:sequenceFlow id="fe" sourceRef="{last}" targetRef="E"/>\n'
    )


def refused(data: bytes) -> str:
    with pytest.raises(ProcessError) as e:
        [p] = read_bytes(data, "drawing.bpmn")
        validate(p, None)
    return str(e.value)


def test_drawing_reads_every_supported_element(sandbox_registry):
    [p] = read_process_file(PROCESS_DATA / "release_review.bpmn")
    p = validate(p, sandbox_registry)
    assert (p.key, p.name, p.version, p.root_entity) == ("release_review", "Release review 发布评审", "3", "cmdb:app")
    assert p.tags == ("demo", "bpmn") and p.source_format == "bpmn"
    types = {n.id: n.type for n in p.nodes}
    assert types == {
        "Start": "start",
        "Build": "automatic",
        "Review": "human",
        "Choice": "decision",
        "Settle": "timeInterval",
        "Deploy": "automatic",
        "CheckHosts": "subProc",
        "Rollback": "automatic",
        "Joined": "decisionMerge",
        "End": "end",
    }
    # the embedded sub-process is inlined: the timer leads to its task, its task to what follows it
    flows = {(e.source, e.target) for e in p.edges}
    assert ("Settle", "Deploy") in flows and ("Deploy", "CheckHosts") in flows
    assert not {"Rollout", "Rollout_start", "Rollout_end"} & {n.id for n in p.nodes}
    build, deploy = p.node("Build"), p.node("Deploy")
    assert (build.service_name, build.service_version, build.timeout_minutes) == ("host/host/create", "1.0.0", 15.0)
    assert [(b.param_name, b.bind_type, b.bind_value) for b in build.params][0] == ("image", "constant", "debian-12")
    assert (build.params[1].bind_node_id, build.params[1].bind_param_name) == ("Start", "procInstId")
    assert (deploy.dynamic_bind, deploy.bind_node_id, deploy.risk_check) == (1, "Build", True)
    assert p.node("Settle").time_config.seconds == 120
    assert (p.node("CheckHosts").sub_process.key, p.node("CheckHosts").sub_process.version) == ("host_check", "v1")
    yes, no = (next(e for e in p.edges if e.id == i) for i in ("Flow_yes", "Flow_no"))
    assert yes.condition == "${decision == 'approve' && hosts > 0}" and no.default
    assert p.diagram.bpmn_xml.startswith("<?xml") and p.diagram.positions["Build"].width == 100


def test_user_task_and_error_end():
    [p] = read_bytes(
        doc(
            '<bpmn:startEvent id="S"/><bpmn:userTask id="U" name="ok?"/>'
            '<bpmn:exclusiveGateway id="G"/><bpmn:endEvent id="E"/>'
            '<bpmn:endEvent id="X" name="failed"><bpmn:errorEventDefinition/></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="U"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="U" targetRef="G"/>'
            '<bpmn:sequenceFlow id="f3" name="approve" sourceRef="G" targetRef="E"/>'
            '<bpmn:sequenceFlow id="f4" name="reject" sourceRef="G" targetRef="X"/>'
        ),
        "d.bpmn",
    )
    p = validate(p, None)
    assert [n.type for n in p.nodes] == ["start", "human", "decision", "end", "abnormal"]


def test_timer_date_and_durations():
    [p] = read_bytes(
        linear(
            '<bpmn:intermediateCatchEvent id="T"><bpmn:timerEventDefinition>'
            "<bpmn:timeDate>2030-01-31T12:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>"
            "</bpmn:intermediateCatchEvent>"
        ),
        "d.bpmn",
    )
    assert p.node("T").type == "date" and p.node("T").time_config.date == "2030-01-31T12:00:00Z"
    assert iso_duration_seconds("P1DT2H3M4.5S") == 93784.5
    assert iso_duration_seconds("PT20S") == 20
    for bad in ("P1M", "P1Y", "PT", "P", "${later}", "R3/PT1M"):
        assert iso_duration_seconds(bad) is None, bad


REFUSALS = [
    # (what, the middle of start -> ... -> end, text the message must hold)
    (
        "loop",
        f'<bpmn:serviceTask id="T" name="again">{SERVICE}<bpmn:standardLoopCharacteristics/></bpmn:serviceTask>',
        "<T 'again'>: loops (standardLoopCharacteristics) are refused",
    ),
    (
        "multi-instance",
        '<bpmn:serviceTask id="T" name="each"><bpmn:multiInstanceLoopCharacteristics/></bpmn:serviceTask>',
        "loops (multiInstanceLoopCharacteristics) are refused",
    ),
    ("event-based gateway", '<bpmn:eventBasedGateway id="T" name="wait"/>', "<T 'wait'>: eventBasedGateway is refused"),
    ("complex gateway", '<bpmn:complexGateway id="T"/>', "complexGateway is refused"),
    (
        "message catch",
        '<bpmn:intermediateCatchEvent id="T" name="msg"><bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>',
        "messageEventDefinition is refused",
    ),
    (
        "signal catch",
        '<bpmn:intermediateCatchEvent id="T"><bpmn:signalEventDefinition/></bpmn:intermediateCatchEvent>',
        "signalEventDefinition is refused",
    ),
    (
        "compensation",
        '<bpmn:intermediateCatchEvent id="T"><bpmn:compensateEventDefinition/></bpmn:intermediateCatchEvent>',
        "compensateEventDefinition is refused",
    ),
    (
        "cron timer",
        '<bpmn:intermediateCatchEvent id="T" name="every"><bpmn:timerEventDefinition>'
        "<bpmn:timeCycle>R5/PT10M</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        "<T 'every'>: cyclic timers are refused",
    ),
    (
        "month timer",
        '<bpmn:intermediateCatchEvent id="T"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        "is not a fixed ISO-8601 duration",
    ),
    ("script", '<bpmn:scriptTask id="T" name="sh"/>', "scriptTask is refused"),
    ("java class", '<bpmn:serviceTask id="T" camunda:class="com.x.Y"/>', "camunda:class is not run here"),
    (
        "listener",
        '<bpmn:serviceTask id="T"><bpmn:extensionElements><camunda:executionListener event="start"/>'
        "</bpmn:extensionElements></bpmn:serviceTask>",
        "extension executionListener is not run",
    ),
    (
        "unknown property",
        '<bpmn:serviceTask id="T"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="servicename" value="x"/></camunda:properties>'
        "</bpmn:extensionElements></bpmn:serviceTask>",
        "unknown property 'servicename'",
    ),
    (
        "event sub-process",
        '<bpmn:subProcess id="T" triggeredByEvent="true"/>',
        "event sub-processes are refused",
    ),
    ("throw event", '<bpmn:intermediateThrowEvent id="T"/>', "intermediateThrowEvent is refused"),
]


@pytest.mark.parametrize(("what", "middle", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_elements_name_line_id_and_hint(what, middle, message):
    text = refused(linear(middle))
    assert message in text
    assert "drawing.bpmn:" in text and "(hint: " in text


def test_non_interrupting_boundary_refused():
    text = refused(
        linear(
            f'<bpmn:serviceTask id="T" name="work">{SERVICE}</bpmn:serviceTask>'
            '<bpmn:boundaryEvent id="B" name="late" attachedToRef="T" cancelActivity="false">'
            "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
            "</bpmn:boundaryEvent>"
        )
    )
    assert "<B 'late'>: boundaryEvent is refused" in text and "timeout" in text


def test_line_numbers_point_at_the_element():
    data = linear('<bpmn:serviceTask id="T">\n</bpmn:serviceTask>\n<bpmn:complexGateway id="C" name="odd"/>')
    text = refused(data)
    line = data.decode().splitlines().index('<bpmn:complexGateway id="C" name="odd"/>') + 1
    assert f"drawing.bpmn:{line} <C 'odd'>" in text


@pytest.mark.parametrize(
    "condition",
    [
        "${execution.getVariable('x') == 1}",
        "${a + 1 > 2}",
        "${x == 'a' and y}",
        "#{a}",
        "${}",
        "${" + "(" * 20 + "a" + ")" * 20 + "}",
    ],
)
def test_conditions_outside_the_subset_refused(condition):
    text = refused(
        doc(
            '<bpmn:startEvent id="S"/><bpmn:exclusiveGateway id="G"/><bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="G"/>'
            '<bpmn:sequenceFlow id="f2" name="a" sourceRef="G" targetRef="E1"><bpmn:conditionExpression>'
            + condition.replace("&", "&amp;").replace("<", "&lt;")
            + "</bpmn:conditionExpression></bpmn:sequenceFlow>"
            + '<bpmn:sequenceFlow id="f3" name="b" sourceRef="G" targetRef="E2"/>'
        )
    )
    assert "drawing.bpmn:5 <f2 'a'>: condition" in text
    assert "is outside the safe subset" in text


def test_parallel_join_fed_by_exclusive_split_refused():
    text = refused(
        doc(
            '<bpmn:startEvent id="S"/><bpmn:exclusiveGateway id="X" name="choose"/>'
            f'<bpmn:serviceTask id="A">{SERVICE}</bpmn:serviceTask>'
            f'<bpmn:serviceTask id="B">{SERVICE}</bpmn:serviceTask>'
            '<bpmn:parallelGateway id="J" name="join"/><bpmn:endEvent id="E"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="X"/>'
            '<bpmn:sequenceFlow id="f2" name="a" sourceRef="X" targetRef="A"/>'
            '<bpmn:sequenceFlow id="f3" name="b" sourceRef="X" targetRef="B"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="A" targetRef="J"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="B" targetRef="J"/>'
            '<bpmn:sequenceFlow id="f6" sourceRef="J" targetRef="E"/>'
        )
    )
    assert "<X 'choose'>: a parallel merge J joins the branches of this decision: it would wait forever" in text


def test_loop_in_the_flow_refused():
    text = refused((PROCESS_DATA / "loop.bpmn").read_bytes())
    assert "the flow loops: " in text and "Retry" in text and "(hint: a process runs once" in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
            "refused unsafe XML",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><d>&b;</d>',
            "refused unsafe XML",
        ),
        ("<d>" + "<a>" * 100 + "</a>" * 100 + "</d>", "nested deeper than 64"),
        ("<d>" + "<a/>" * 60_000 + "</d>", "more than 50000 elements"),
        ("<notbpmn/>", "the root element is notbpmn, not BPMN definitions"),
    ],
)
def test_hostile_xml_refused(body, message):
    with pytest.raises(ProcessError, match=message):
        read_bytes(body.encode(), "x.bpmn")


def test_two_processes_refused():
    two = HEAD.replace('id="p1"', 'id="p0"') + TAIL.replace("</bpmn:definitions>", "") + HEAD.split("\n", 2)[2] + TAIL
    assert "holds 2 processes, not one" in refused(two.encode())


def test_process_extensions_and_encoding():
    listener = doc("").replace(
        b"</camunda:properties></bpmn:extensionElements>",
        b'</camunda:properties><camunda:executionListener event="start"/></bpmn:extensionElements>',
    )
    assert "extension executionListener of the process is not run" in refused(listener)
    latin = linear(f'<bpmn:serviceTask id="T" name="caf\u00e9">{SERVICE}</bpmn:serviceTask>').decode()
    latin = latin.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    assert "the drawing is not UTF-8" in refused(latin)


def test_nested_embedded_sub_processes_are_inlined():
    inner = (
        '<bpmn:subProcess id="In"><bpmn:startEvent id="In_s"/>'
        f'<bpmn:serviceTask id="Deep">{SERVICE}</bpmn:serviceTask><bpmn:endEvent id="In_e"/>'
        '<bpmn:sequenceFlow id="i1" sourceRef="In_s" targetRef="Deep"/>'
        '<bpmn:sequenceFlow id="i2" sourceRef="Deep" targetRef="In_e"/></bpmn:subProcess>'
    )
    outer = (
        '<bpmn:subProcess id="T" name="outer"><bpmn:startEvent id="O_s"/>' + inner + '<bpmn:endEvent id="O_e"/>'
        '<bpmn:sequenceFlow id="o1" sourceRef="O_s" targetRef="In"/>'
        '<bpmn:sequenceFlow id="o2" sourceRef="In" targetRef="O_e"/></bpmn:subProcess>'
    )
    [p] = read_bytes(linear(outer), "d.bpmn")
    p = validate(p, None)
    assert [n.id for n in p.nodes] == ["S", "Deep", "E"]
    assert {(e.source, e.target) for e in p.edges} == {("S", "Deep"), ("Deep", "E")}


def test_embedded_sub_process_needs_one_way_in_and_out():
    two_starts = (
        '<bpmn:subProcess id="T" name="box"><bpmn:startEvent id="a"/><bpmn:startEvent id="b"/>'
        '<bpmn:endEvent id="c"/></bpmn:subProcess>'
    )
    assert "<T 'box'>: an embedded sub-process needs one plain start and one plain end (2, 1)" in refused(
        linear(two_starts)
    )


def test_inclusive_split_and_join():
    [p] = read_bytes(
        doc(
            '<bpmn:startEvent id="S"/><bpmn:inclusiveGateway id="I" default="f3"/>'
            f'<bpmn:serviceTask id="A">{SERVICE}</bpmn:serviceTask>'
            f'<bpmn:serviceTask id="B">{SERVICE}</bpmn:serviceTask>'
            '<bpmn:inclusiveGateway id="J"/><bpmn:endEvent id="E"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="I"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="I" targetRef="A"><bpmn:conditionExpression>${a}'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>"
            '<bpmn:sequenceFlow id="f3" sourceRef="I" targetRef="B"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="A" targetRef="J"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="B" targetRef="J"/>'
            '<bpmn:sequenceFlow id="f6" sourceRef="J" targetRef="E"/>'
        ),
        "d.bpmn",
    )
    p = validate(p, None)
    assert (p.node("I").type, p.node("I").inclusive, p.node("J").type) == ("decision", True, "decisionMerge")


def test_gateway_that_joins_and_splits_refused():
    text = refused(
        doc(
            '<bpmn:startEvent id="S"/><bpmn:parallelGateway id="F"/><bpmn:parallelGateway id="M" name="both"/>'
            '<bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="F"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="F" targetRef="M"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="F" targetRef="M"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="M" targetRef="E1"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="M" targetRef="E2"/>'
        )
    )
    assert "<M 'both'>: a gateway that both joins (2 in) and splits (2 out) is refused" in text


def test_call_activity_without_called_element():
    text = refused(
        linear(
            '<bpmn:callActivity id="T" name="sub"><bpmn:extensionElements><camunda:properties>'
            '<camunda:property name="routineExpression" value="cmdb:app"/></camunda:properties>'
            "</bpmn:extensionElements></bpmn:callActivity>"
        )
    )
    assert "<T 'sub'>: sub-process node names no process to run" in text


def test_condition_on_a_flow_leaving_a_task_refused():
    data = linear(f'<bpmn:serviceTask id="T" name="work">{SERVICE}</bpmn:serviceTask>').replace(
        b'<bpmn:sequenceFlow id="fe" sourceRef="T" targetRef="E"/>',
        b'<bpmn:sequenceFlow id="fe" sourceRef="T" targetRef="E"><bpmn:conditionExpression>${ok}'
        b"</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )
    assert "<T 'work'>: flow fe has a condition or is a default flow, but leaves the automatic node" in refused(data)


def test_camunda_task_attributes_refused_unless_harmless():
    text = refused(linear('<bpmn:userTask id="T" name="ok?" camunda:assignee="bob" camunda:asyncBefore="true"/>'))
    assert "<T 'ok?'>: camunda:assignee is not run here" in text and "asyncBefore" not in text
