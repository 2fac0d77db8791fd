"""Untrusted XML to an element tree, with line numbers and limits.

defusedxml refuses DTDs, entity declarations and external references (XXE, entity bombs); on top
of that a drawing may hold at most :data:`MAX_ELEMENTS` elements nested at most :data:`MAX_DEPTH`
deep, so a hostile file costs little before it is refused.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from airflow_wecube.processes.errors import Problem, ProcessError

MAX_DEPTH = 64
MAX_ELEMENTS = 50_000


class _TooBig(Exception):
    def __init__(self, message: str, line: int):
        self.message, self.line = message, line


class _LineParser(DefusedXMLParser):
    """defusedxml's parser, recording each element's line and refusing depth and size beyond limits."""

    def __init__(self) -> None:
        super().__init__(forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self.depth = 0
        self.count = 0

    def _start(self, tag, attr_list):  # noqa: ANN001 - expat callback
        self.depth += 1
        self.count += 1
        line = self.parser.CurrentLineNumber
        if self.depth > MAX_DEPTH:
            raise _TooBig(f"elements nested deeper than {MAX_DEPTH} levels", line)
        if self.count > MAX_ELEMENTS:
            raise _TooBig(f"more than {MAX_ELEMENTS} elements", line)
        elem = super()._start(tag, attr_list)
        elem.sourceline = line
        return elem

    def _end(self, tag):  # noqa: ANN001 - expat callback
        self.depth -= 1
        return super()._end(tag)


def parse_xml(data: bytes | str, source: str) -> Element:
    """The root element of ``data``; :class:`ProcessError` when it is malformed, unsafe or too big."""
    parser = _LineParser()
    try:
        parser.feed(data.encode("utf-8") if isinstance(data, str) else data)
        return parser.close()
    except _TooBig as e:
        raise ProcessError(
            Problem(f"refused: {e.message}", source=source, line=e.line, hint="a process drawing is far smaller")
        ) from None
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise ProcessError(Problem(f"malformed XML: {e}", source=source, line=line)) from None
    except DefusedXmlException as e:
        raise ProcessError(
            Problem(
                f"refused unsafe XML ({type(e).__name__})",
                source=source,
                hint="DTDs, entity declarations and external references are not allowed in a process file",
            )
        ) from None
