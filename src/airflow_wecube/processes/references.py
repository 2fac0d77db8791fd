"""Sub-process references resolved at import: a v4 export names the called process (and version),
a BPMN call activity its key; the run needs the key, hence the DAG id, of a stored process."""

from __future__ import annotations

from airflow_wecube.processes.model import Process
from airflow_wecube.processes.store import ProcessStore


def resolve_sub_processes(processes: list[Process], store: ProcessStore) -> list[Process]:
    """``processes`` with each subProc node's key filled in from the same file or the store (by key,
    else by name, the version matching when one is named); a warning names each one not found,
    which must be imported before the process runs."""
    known: list[Process] = list(processes)
    for key in store.processes():
        try:
            known.append(store.get(key))
        except Exception:  # a corrupt stored file is reported where it is read
            continue
    out = []
    for process in processes:
        nodes, warnings = [], list(process.warnings)
        for node in process.nodes:
            ref = node.sub_process
            if node.type != "subProc" or ref is None:
                nodes.append(node)
                continue
            match = [
                p
                for p in known
                if (p.key == ref.key if ref.key else p.name == ref.name)
                and (not ref.version or p.version == ref.version)
            ]
            if match:
                node = node.model_copy(update={"sub_process": ref.model_copy(update={"key": match[0].key})})
            else:
                what = ref.key or repr(ref.name)
                warnings.append(
                    f"node {node.id} runs process {what}{' ' + ref.version if ref.version else ''}, which is not"
                    " imported yet: import it before running this one"
                )
            nodes.append(node)
        out.append(process.model_copy(update={"nodes": tuple(nodes), "warnings": tuple(warnings)}))
    return out
