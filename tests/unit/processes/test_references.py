"""Sub-process references: resolved to a stored (or same-file) process's key, or a warning."""

from __future__ import annotations

from airflow_wecube.processes import ProcessStore, read_process_file
from airflow_wecube.processes.references import resolve_sub_processes
from tests.fixtures.paths import PROCESS_DATA


def test_same_file_by_name_and_version(tmp_path):
    main, sub = resolve_sub_processes(
        read_process_file(PROCESS_DATA / "v4_app_release.json"), ProcessStore(tmp_path / "s")
    )
    assert main.node("n_check").sub_process.key == "host_check"
    assert not any("not imported yet" in w for w in main.warnings)
    assert sub.warnings == ()


def test_stored_by_key_or_warned(tmp_path):
    store = ProcessStore(tmp_path / "s")
    [drawing] = read_process_file(PROCESS_DATA / "release_review.bpmn")
    [unresolved] = resolve_sub_processes([drawing], store)
    assert unresolved.warnings == (
        "node CheckHosts runs process host_check v1, which is not imported yet: import it before running this one",
    )
    store.save(read_process_file(PROCESS_DATA / "v4_app_release.json"))
    [resolved] = resolve_sub_processes([drawing], store)
    assert resolved.node("CheckHosts").sub_process.key == "host_check" and resolved.warnings == ()
    wrong = drawing.model_copy(
        update={
            "nodes": tuple(
                n.model_copy(update={"sub_process": n.sub_process.model_copy(update={"version": "v9"})})
                if n.sub_process
                else n
                for n in drawing.nodes
            )
        }
    )
    [still] = resolve_sub_processes([wrong], store)
    assert "host_check v9, which is not imported yet" in still.warnings[0]
