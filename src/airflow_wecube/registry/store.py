"""The plugin registry: a folder of normalised manifests, one JSON file per package version.

Layout: ``{root}/{package}/{version}.json``. Several versions live side by side; a lookup takes
the highest version unless pinned (``pkg@version``). Writes are atomic (temp file + rename) so a
reader on another scheduler or worker never sees half a file. Reading is cheap and cached on
file mtimes, because DAG files look services up at parse time.
"""

from __future__ import annotations

import os
import re
from functools import cmp_to_key
from pathlib import Path

from airflow_wecube.exceptions import RegistryError
from airflow_wecube.registry.models import Package, Service, path_segment_problem
from airflow_wecube.util.files import atomic_create_bytes, atomic_write_bytes, read_model

_SERVICE_RE = re.compile(r"^(?P<pkg>[^/@]+)(?:@(?P<ver>[^/]+))?/(?P<rest>.+)$")


def _version_key(v: str):
    """Order versions like 1.2.10 > 1.2.9, tolerating WeCube's 'v1.2.3' and odd suffixes."""
    parts = re.split(r"[.\-+_]", v.lstrip("vV"))
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, with or after ``b`` (1.2.10 after 1.2.9)."""
    ka, kb = _version_key(a), _version_key(b)
    return (ka > kb) - (ka < kb)


def split_service(name: str) -> tuple[str, str | None, str]:
    """``"pkg@1.0/plugin/action"`` -> ``("pkg", "1.0", "pkg/plugin/action")``."""
    m = _SERVICE_RE.match(name.strip())
    if not m:
        raise RegistryError(f"not a service name: {name!r} (expected package/plugin/action)")
    return m["pkg"], m["ver"], f"{m['pkg']}/{m['rest']}"


class Registry:
    """A plugin registry rooted at a folder.

    :param root: the folder; created on first registration
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # -- reading -------------------------------------------------------------------------
    def packages(self) -> dict[str, list[str]]:
        """Package name -> its registered versions, lowest first."""
        out: dict[str, list[str]] = {}
        if not self.root.is_dir():
            return out
        for pkg_dir in sorted(self.root.iterdir()):
            if pkg_dir.is_dir() and not pkg_dir.name.startswith("."):
                versions = [f.name[: -len(".json")] for f in pkg_dir.iterdir() if f.name.endswith(".json")]
                if versions:
                    out[pkg_dir.name] = sorted(versions, key=cmp_to_key(compare_versions))
        return out

    def _file(self, name: str, version: str) -> Path:
        """``{root}/{name}/{version}.json``, refused when it would lie anywhere else.

        The models already refuse such names; this is the second lock on the door, for packages
        built without validation and names that come straight from a caller.
        """
        for what, value in (("package name", name), ("package version", version)):
            problem = path_segment_problem(value)
            if problem:
                raise RegistryError(f"refused {what} {problem}: it must name one folder or file inside {self.root}")
        path = self.root / name / f"{version}.json"
        inside = self.root.resolve() / name
        if path.resolve().parent != inside:
            raise RegistryError(f"refused {name} {version}: {path} resolves outside {inside}")
        return path

    def _versions(self, name: str) -> list[str]:
        """The registered versions of one package, lowest first: its own folder only, not the
        whole registry (a plugin call looks its service up every time)."""
        if not name or name.startswith(".") or "/" in name or os.sep in name:
            return []
        try:
            files = os.listdir(self.root / name)
        except OSError:  # not registered (or not a folder)
            return []
        return sorted((f[: -len(".json")] for f in files if f.endswith(".json")), key=cmp_to_key(compare_versions))

    def get(self, name: str, version: str | None = None) -> Package:
        """A registered package; the highest version unless ``version`` is given."""
        versions = self._versions(name)
        if not versions:
            known = ", ".join(self.packages()) or "none"
            raise RegistryError(f"package {name!r} is not registered in {self.root} (registered: {known})")
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise RegistryError(f"package {name} has no version {version!r} (registered: {', '.join(versions)})")
        return read_model(self._file(name, version), Package, RegistryError, "registry file")

    def service(self, name: str, version: str | None = None) -> Service:
        """Look a service up by name; ``pkg@version/...`` or ``version=`` pins the package version."""
        pkg, pinned, plain = split_service(name)
        if pinned and version and pinned != version:
            raise RegistryError(f"{name}: pinned to {pinned} but version={version!r} was also given")
        package = self.get(pkg, pinned or version)
        services = package.services()
        try:
            return services[plain]
        except KeyError:
            close = [s for s in services if s.split("/")[1:2] == plain.split("/")[1:2]] or list(services)
            raise RegistryError(
                f"{package.name} {package.version} has no service {plain!r}; it has: {', '.join(close[:20])}"
                + (" ..." if len(close) > 20 else "")
            ) from None

    def services(self, all_versions: bool = False) -> list[Service]:
        """Every service of the highest version of each package (or of every version)."""
        out = []
        for name, versions in self.packages().items():
            for v in versions if all_versions else versions[-1:]:
                out.extend(self.get(name, v).services().values())
        return out

    # -- writing -------------------------------------------------------------------------
    def register(self, package: Package, *, replace: bool = False) -> Path:
        """Store a validated package; refuses an existing name+version unless ``replace``."""
        path = self._file(package.name, package.version)
        taken = RegistryError(
            f"{package.name} {package.version} is already registered ({path}); use --replace to overwrite"
        )
        if path.exists() and not replace:
            raise taken
        data = package.model_dump_json(indent=1).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        if replace:
            atomic_write_bytes(path, data)
            return path
        try:  # exclusive: of two concurrent registrations exactly one creates the file
            atomic_create_bytes(path, data)
        except FileExistsError:
            raise taken from None
        return path

    def remove(self, name: str, version: str | None = None) -> list[str]:
        """Remove one version, or every version of a package; returns what was removed."""
        versions = self.packages().get(name, [])
        targets = versions if version is None else [v for v in versions if v == version]
        if not targets:
            what = f"{name}@{version}" if version else name
            raise RegistryError(f"{what} is not registered in {self.root}")
        for v in targets:
            self._file(name, v).unlink()
        pkg_dir = self.root / name
        if not any(pkg_dir.iterdir()):
            pkg_dir.rmdir()
        return targets
