"""Errors of process import: every problem of a file in one message, each with where and a hint."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_wecube.exceptions import WeCubeError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a process file.

    :param message: what is wrong
    :param source: the file
    :param line: 1-based line in the file (or in the BPMN XML a .pds file carries), when known
    :param element: the node / flow / BPMN element id
    :param name: that element's name, when it has one
    :param hint: how to fix it
    """

    message: str
    source: str = ""
    line: int | None = None
    element: str = ""
    name: str = ""
    hint: str = ""

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        if self.element:
            where += (" " if where else "") + f"<{self.element}" + (f" {self.name!r}" if self.name else "") + ">"
        text = (where + ": " if where else "") + self.message
        return text + (f" (hint: {self.hint})" if self.hint else "")


class ProcessError(WeCubeError):
    """A process file is refused; nothing was written. ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem] | Problem | str, *, source: str = ""):
        if isinstance(problems, str):
            problems = [Problem(problems, source=source)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


def pydantic_messages(error) -> list[str]:
    """A pydantic ValidationError's messages, each with the field it concerns."""
    out = []
    for err in error.errors():
        field = ".".join(str(x) for x in err.get("loc", ()))
        msg = err.get("msg", "").removeprefix("Value error, ")
        out.append(f"{field}: {msg}" if field and field not in msg else msg)
    return out
