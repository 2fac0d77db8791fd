"""Routine expressions as a process holds them, made ready for the data model's evaluator.

WeCube writes a node bound to whole entities with a trailing ``.NONE`` (``wecmdb:data_center.NONE``):
"no attribute". It is dropped before parsing, so the node binds the entities themselves
(docs/processes.md, "Bindings"). Pure: no Airflow import, no network.
"""

from __future__ import annotations

from airflow_wecube.datamodel.expression import Expression, ExpressionError, parse

#: WeCube's "no attribute" suffix
NONE_SUFFIX = ".NONE"


def routine_text(text: str) -> str:
    """The expression without WeCube's trailing ``.NONE``."""
    text = (text or "").strip()
    return text[: -len(NONE_SUFFIX)] if text.endswith(NONE_SUFFIX) else text


def routine(text: str) -> Expression:
    """The parsed routine expression (``.NONE`` dropped); an attribute at the end is ignored when
    binding entities (the node acts on the entities the path reaches)."""
    return parse(routine_text(text)).target()


def parse_check(root_entity: str):
    """The import's ``routine_check``: every routine expression parses and, when the process names
    its root entity, starts at it (WeCube evaluates it from the root entity chosen at start)."""

    def check(text: str, node) -> str | None:
        try:
            expr = routine(text)
        except ExpressionError as e:
            return str(e)
        if root_entity and expr.first.name != root_entity.split("{", 1)[0].strip():
            return f"{text} starts at {expr.first.name}, not at the root entity {root_entity}"
        return None

    return check


__all__ = ["NONE_SUFFIX", "parse_check", "routine", "routine_text"]
