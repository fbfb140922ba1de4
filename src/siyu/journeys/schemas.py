"""A journey definition: versioned JSON with triggers, a graph of nodes from `start`, a re-entry policy and
an optional goal. `parse_definition` turns bad input into ValidationFailed naming the field path.

Editing an active journey stores a new `JourneyVersion`; a run keeps the version it started on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from siyu.core.errors import ValidationFailed

from .conditions import ConditionError
from .filters import PropertyFilter
from .graph import GraphError, check_graph
from .nodes import (
    ConditionNode,
    Duration,
    ExitNode,
    Node,
    NodeId,
    SendNode,
    SplitNode,
    TagNode,
    TaskNode,
    UpdateTraitNode,
    Variant,
    WaitEventNode,
    WaitNode,
    WebhookNode,
)
from .triggers import (
    DateTraitTrigger,
    EventTrigger,
    Goal,
    ManualTrigger,
    Reentry,
    ReentryAfter,
    ReentryAlways,
    ReentryNever,
    ScheduleTrigger,
    SegmentEnteredTrigger,
    SegmentExitedTrigger,
    Trigger,
)

AnyNode = (
    WaitNode
    | WaitEventNode
    | ConditionNode
    | SplitNode
    | SendNode
    | TagNode
    | UpdateTraitNode
    | TaskNode
    | WebhookNode
    | ExitNode
)


class JourneyDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = Field(1, description="Definition format; a new format gets a new number.")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    triggers: list[Trigger] = Field(min_length=1, max_length=10)
    start: NodeId
    nodes: list[Node] = Field(min_length=1, max_length=200)
    reentry: Reentry = Field(default_factory=ReentryNever)
    goal: Goal | None = None

    _index: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _runnable_graph(self) -> JourneyDefinition:
        self._index = check_graph(self.start, self.nodes)
        return self

    def node(self, node_id: str) -> AnyNode:
        """The node called `node_id` (KeyError if the definition has none). Reads the private index from
        pydantic's private-attribute dict: `self._index` takes pydantic's generic `__getattr__` path, a
        few microseconds on every node of every step."""
        private = self.__pydantic_private__
        index: dict[str, int] = private["_index"] if private is not None else self._index
        return self.nodes[index[node_id]]


class JourneyVersion(BaseModel):
    """One stored version of a journey: what a run executes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    journey_id: int = Field(ge=1)
    version: int = Field(ge=1)
    definition: JourneyDefinition


def _path(loc: tuple[int | str, ...], data: Any) -> str:
    """`nodes[2].timeout.hours` from Pydantic's location, dropping the discriminator tags it inserts."""
    text, current, tagged = "", data, False
    for item in loc:
        if isinstance(current, dict) and current.get("type") == item and not tagged:
            tagged = True  # the union tag Pydantic inserts right after entering a node
            continue
        tagged = False
        if isinstance(item, int) and isinstance(current, list) and 0 <= item < len(current):
            text, current = f"{text}[{item}]", current[item]
        elif isinstance(current, dict) and item in current:
            text, current = f"{text}.{item}" if text else str(item), current[item]
        else:
            text, current = f"{text}.{item}" if text else str(item), None
    return text


def parse_definition(data: Any) -> JourneyDefinition:
    """Validate a definition; ValidationFailed names the first bad field, e.g. `nodes[2].next`."""
    try:
        return JourneyDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        path = _path(tuple(first["loc"]), data)
        if isinstance(cause, GraphError):
            path, message = cause.path, cause.message
        elif isinstance(cause, ConditionError):
            path, message = f"{path}.{cause.field}" if cause.field else path, cause.message
        else:
            message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValidationFailed(f"{path or 'definition'}: {message}{more}", field=path or None) from None


__all__ = [
    "AnyNode",
    "ConditionNode",
    "DateTraitTrigger",
    "Duration",
    "EventTrigger",
    "ExitNode",
    "Goal",
    "JourneyDefinition",
    "JourneyVersion",
    "ManualTrigger",
    "PropertyFilter",
    "ReentryAfter",
    "ReentryAlways",
    "ReentryNever",
    "ScheduleTrigger",
    "SegmentEnteredTrigger",
    "SegmentExitedTrigger",
    "SendNode",
    "SplitNode",
    "TagNode",
    "TaskNode",
    "UpdateTraitNode",
    "Variant",
    "WaitEventNode",
    "WaitNode",
    "WebhookNode",
    "parse_definition",
]
