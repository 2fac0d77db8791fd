"""Errors raised by the provider; none of them import Airflow so pure code can raise them too."""

from __future__ import annotations

from typing import Any


class WeCubeError(Exception):
    """Base class of every error this package raises on purpose."""


class ManifestError(WeCubeError):
    """A manifest cannot be read or is not valid; nothing was registered.

    :param message: what is wrong
    :param source: the file (or zip member) the problem is in
    :param line: 1-based line number, when known
    :param element: the XML element / YAML key at fault, when known
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None, element: str | None = None):
        self.message = message
        self.source = source
        self.line = line
        self.element = element
        where = []
        if source:
            where.append(str(source) + (f":{line}" if line else ""))
        if element:
            where.append(f"<{element}>")
        super().__init__((" ".join(where) + ": " if where else "") + message)


class PlaceholderVersionError(ManifestError):
    """The manifest's version is a build placeholder (``{{PLUGIN_VERSION}}``) and no version was given.

    :param placeholder: the version as the manifest writes it
    """

    def __init__(self, placeholder: str, **where: Any):
        self.placeholder = placeholder
        super().__init__(
            f"package version is a build placeholder ({placeholder}); pass the version explicitly (--version)", **where
        )


class RegistryError(WeCubeError):
    """The registry refused an operation (unknown service, duplicate version, ...)."""


class ParameterValidationError(WeCubeError):
    """Inputs do not match the interface's declared parameters; raised before any HTTP call."""

    def __init__(self, service: str, problems: list[str]):
        self.service = service
        self.problems = problems
        super().__init__(f"invalid inputs for {service}: " + "; ".join(problems))


class WeCubePluginError(WeCubeError):
    """A plugin call failed.

    :param result: the parsed protocol response when the plugin answered (so outputs that
        succeeded are not lost), else None
    """

    def __init__(self, message: str, *, result: Any = None, status_code: int | None = None):
        self.result = result
        self.status_code = status_code
        super().__init__(message)
