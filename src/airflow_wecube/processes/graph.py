"""Graph facts the checks need: cycles, reachability, ancestors and immediate post-dominators."""

from __future__ import annotations

from collections import deque

#: the virtual node every node without a successor leads to (post-dominator analysis)
EXIT = "\x00exit"


class FlowGraph:
    """Successors and predecessors of a process's nodes (edges to unknown nodes left out)."""

    def __init__(self, node_ids: list[str], edges: list[tuple[str, str]]):
        self.nodes = list(node_ids)
        known = set(node_ids)
        self.succ: dict[str, list[str]] = {n: [] for n in node_ids}
        self.pred: dict[str, list[str]] = {n: [] for n in node_ids}
        for s, t in edges:
            if s in known and t in known:
                self.succ[s].append(t)
                self.pred[t].append(s)

    def topological(self) -> tuple[list[str], list[str]]:
        """(nodes in a topological order, nodes on or behind a cycle)."""
        indeg = {n: len(self.pred[n]) for n in self.nodes}
        queue = deque(n for n in self.nodes if indeg[n] == 0)
        order = []
        while queue:
            n = queue.popleft()
            order.append(n)
            for t in self.succ[n]:
                indeg[t] -= 1
                if indeg[t] == 0:
                    queue.append(t)
        done = set(order)
        return order, [n for n in self.nodes if n not in done]

    def cycle(self) -> list[str]:
        """One cycle as a list of node ids (first repeated at the end), or [] when there is none."""
        colour: dict[str, int] = {}
        for root in self.nodes:
            if root in colour:
                continue
            stack, path = [(root, iter(self.succ[root]))], [root]
            colour[root] = 1
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    colour[node] = 2
                    stack.pop()
                    path.pop()
                elif colour.get(child) == 1:
                    return path[path.index(child) :] + [child]
                elif child not in colour:
                    colour[child] = 1
                    stack.append((child, iter(self.succ[child])))
                    path.append(child)
        return []

    def reachable(self, start: str, backwards: bool = False) -> set[str]:
        step = self.pred if backwards else self.succ
        seen, queue = {start}, deque([start])
        while queue:
            for t in step[queue.popleft()]:
                if t not in seen:
                    seen.add(t)
                    queue.append(t)
        return seen

    def ancestors(self, order: list[str]) -> dict[str, set[str]]:
        """Every node's set of nodes that run before it (acyclic graph, ``order`` topological)."""
        out: dict[str, set[str]] = {}
        for n in order:
            acc: set[str] = set()
            for p in self.pred[n]:
                acc |= out[p] | {p}
            out[n] = acc
        return out

    def immediate_post_dominators(self, order: list[str]) -> dict[str, str]:
        """Each node's nearest node that every path from it to the end passes (:data:`EXIT` if none)."""
        pdom: dict[str, frozenset[str]] = {}
        for n in reversed(order):
            succs = self.succ[n]
            if not succs:
                common = frozenset({EXIT})
            else:
                common = frozenset.intersection(*(pdom[s] for s in succs))
            pdom[n] = common | {n}
        out = {}
        for n in order:
            strict = pdom[n] - {n}
            out[n] = max(strict, key=lambda m: len(pdom.get(m, ()))) if strict - {EXIT} else EXIT
        return out
