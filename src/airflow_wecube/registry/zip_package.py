"""Read ``register.xml`` out of a WeCube plugin package zip (``name-version.zip``).

Only ``register.xml`` is read (the image, UI and SQL members are not ours to run). Members with
absolute paths or ``..`` are refused, and so is a manifest larger than ``MAX_MANIFEST_BYTES``
(checked on the bytes actually inflated, not only on the header, against zip bombs).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path, PurePosixPath

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.models import Package
from airflow_wecube.registry.xml import load_register_xml

MAX_MANIFEST_BYTES = 5 * 1024 * 1024


def _unsafe(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":")


def load_package_zip(path: str | Path, *, version: str | None = None) -> Package:
    source = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ManifestError(f"not a readable zip file: {e}", source=source) from None
    with zf:
        infos = zf.infolist()
        bad = [i.filename for i in infos if _unsafe(i.filename)]
        if bad:
            raise ManifestError(f"refused: member path escapes the package: {', '.join(bad)}", source=source)
        manifests = [i for i in infos if PurePosixPath(i.filename).name == "register.xml" and not i.is_dir()]
        if not manifests:
            raise ManifestError("package has no register.xml", source=source)
        info = min(manifests, key=lambda i: len(PurePosixPath(i.filename).parts))
        if info.file_size > MAX_MANIFEST_BYTES:
            raise ManifestError(
                f"refused: {info.filename} is {info.file_size} bytes (limit {MAX_MANIFEST_BYTES})", source=source
            )
        try:
            with zf.open(info) as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            # encrypted members, unknown compression, CRC errors, truncated archives
            raise ManifestError(f"cannot read {info.filename}: {e}", source=source) from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"refused: {info.filename} inflates past {MAX_MANIFEST_BYTES} bytes", source=source)
    package = load_register_xml(data, source=f"{source}!{info.filename}", version=version)
    return package.model_copy(update={"source_format": "zip"})
