"""The sandbox's plugin packages, one module each.

To add one: write ``plugins/<name>.py`` defining ``package = SandboxPackage("<name>", schema=...)``
and its interfaces, ship ``manifests/<name>.register.xml`` declaring the same services at the
same paths, and add ``"<name>"`` to :data:`PACKAGES`. The server refuses to start when a served
interface is missing from the manifest or sits at another path.
"""

from __future__ import annotations

from importlib import import_module

from airflow_wecube.sandbox.plugin import SandboxPackage

#: module names under ``airflow_wecube.sandbox.plugins``; each ships ``manifests/<name>.register.xml``
PACKAGES: tuple[str, ...] = ("cmdb", "faults", "network", "host", "deploy", "taskman")


def packages() -> list[SandboxPackage]:
    return [import_module(f"{__name__}.{name}").package for name in PACKAGES]
