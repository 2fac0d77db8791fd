"""The sandbox package imports cleanly: no import cycle, no process-wide handler, a clear error
without its extra.

Every module is listed from the folder (a new one is covered without editing this test). Each is
imported first in a fresh interpreter, then all the others, so an order that trips over a cycle
fails here; a static check of every ``import`` (also those inside functions, which run later)
finds cycles the import order cannot show.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_wecube.sandbox as sandbox

ROOT = Path(sandbox.__file__).parent


def _modules() -> list[str]:
    names = [sandbox.__name__]
    names += [m.name for m in pkgutil.walk_packages(sandbox.__path__, prefix=f"{sandbox.__name__}.")]
    return names


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


# A fresh interpreter imports MODULES and reports who registered an atexit callback or a signal
# handler meanwhile (the calling module, and the function's): libraries may (logging does), the
# sandbox's own modules may not.
PROBE = """
import atexit, importlib, json, signal, sys
seen = []
def recording(real, kind):
    def register(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "?")
        fn = args[-1] if kind == "signal" else args[0]
        seen.append([kind, caller, getattr(fn, "__module__", None) or ""])
        return real(*args, **kwargs)
    return register
atexit.register = recording(atexit.register, "atexit")
signal.signal = recording(signal.signal, "signal")
for name in MODULES:
    importlib.import_module(name)
print(json.dumps([s for s in seen if any(str(m).startswith("airflow_wecube") for m in s[1:])]))
"""


def test_the_module_list_covers_the_plugins_and_the_split_modules():
    modules = _modules()
    for name in ("plugin", "processes", "ipam", "app", "plugins.deploy", "plugins.host", "plugins.network"):
        assert f"{sandbox.__name__}.{name}" in modules


@pytest.mark.parametrize("first", _modules())
def test_each_module_imports_first_in_a_fresh_interpreter_and_registers_no_handler(first):
    # first alone, then the others (in the listed order, or reversed for every other module)
    rest = [m for m in _modules() if m != first]
    order = rest if _modules().index(first) % 2 else rest[::-1]
    done = _python(PROBE.replace("MODULES", json.dumps([first, *order])))
    assert done.returncode == 0, f"importing {first} first failed:\n{done.stderr[-3000:]}"
    registered = json.loads(done.stdout.strip().splitlines()[-1])
    assert registered == [], f"importing the sandbox registered process handlers: {registered}"


def _imports(path: Path, module: str) -> set[str]:
    """Every ``airflow_wecube.sandbox`` module ``path`` imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # ``from pkg import submodule``
            found.update(f"{base}.{alias.name}" for alias in node.names)
    known = set(_modules())
    # a module's parent packages are imported before it anyway: not an edge of a cycle
    parents = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
    return {name for name in found if name in known and name != module and name not in parents}


def test_no_import_cycle_even_through_imports_inside_functions():
    graph = {}
    for name in _modules():
        relative = name.split(".")[2:]
        path = ROOT.joinpath(*relative)
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        graph[name] = _imports(path, name)

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*trail, start]
                if nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = [c for c in map(cycle_from, graph) if c]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_without_the_sandbox_extra_importing_says_which_extra_to_install():
    # the interpreter behaves as if prometheus-client (from the extra) were not installed
    done = _python("import sys; sys.modules['prometheus_client'] = None; import airflow_wecube.sandbox")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: airflow_wecube.sandbox needs the 'sandbox' extra"), last
    assert "missing: prometheus_client" in last
    assert "pip install 'airflow-provider-wecube[sandbox]'" in last


def test_the_provider_itself_imports_without_the_sandbox_extra():
    done = _python(
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import airflow_wecube, airflow_wecube.protocol.wire, airflow_wecube.registry\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
