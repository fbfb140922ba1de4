"""Checks that a journey's nodes form a runnable graph: unique ids, every target exists, every node is
reachable from the start, every loop passes through a waiting node, and an exit is reachable from every
node. Errors name the field at fault (`nodes[3].next`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol


class GraphNode(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def WAITING(self) -> bool: ...  # a ClassVar of the node models

    def targets(self) -> list[tuple[str, str]]: ...


class GraphError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def check_graph(start: str, nodes: Sequence[GraphNode]) -> dict[str, int]:
    """Index (node id → position) of a valid graph; GraphError at the first problem found."""
    index: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.id in index:
            raise GraphError(
                f"nodes[{i}].id", f"duplicate node id {node.id!r} (also nodes[{index[node.id]}])"
            )
        index[node.id] = i
    if start not in index:
        raise GraphError("start", f"no node called {start!r}")
    edges: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        for field, target in node.targets():
            if target not in index:
                raise GraphError(f"nodes[{i}].{field}", f"no node called {target!r}")
        edges[node.id] = [target for _, target in node.targets()]

    reached = _reachable([start], edges)
    for i, node in enumerate(nodes):
        if node.id not in reached:
            raise GraphError(f"nodes[{i}]", f"node {node.id!r} is not reachable from the start")

    _check_instant_cycles(nodes, edges, index)

    reverse: dict[str, list[str]] = {node.id: [] for node in nodes}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    exits = [node.id for node in nodes if not node.targets()]
    leads_out = _reachable(exits, reverse)
    for i, node in enumerate(nodes):
        if node.id not in leads_out:
            raise GraphError(f"nodes[{i}]", f"no exit can be reached from node {node.id!r}")
    return index


def _reachable(roots: Sequence[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen, queue = set(roots), deque(roots)
    while queue:
        for target in edges[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _check_instant_cycles(
    nodes: Sequence[GraphNode], edges: Mapping[str, Sequence[str]], index: Mapping[str, int]
) -> None:
    """A loop made only of instantaneous nodes would spin forever inside one step."""
    instant = {node.id for node in nodes if not node.WAITING}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in (node.id for node in nodes if node.id in instant):
        if root in state:
            continue
        path, stack = [root], [iter(edges[root])]
        state[root] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif target in instant and state.get(target) == 1:
                loop = [*path[path.index(target) :], target]
                raise GraphError(
                    f"nodes[{index[target]}]",
                    f"loop {' → '.join(loop)} has no wait: add a wait, wait_event or task node",
                )
            elif target in instant and target not in state:
                state[target] = 1
                path.append(target)
                stack.append(iter(edges[target]))
