"""The runner's `FastState` (a cheaper deep copy for the engine) behaves exactly like `RunState`: the same
results for the same stimuli, and the state handed to a step is never changed."""

from __future__ import annotations

from typing import Any

from siyu.journeys import playbooks
from siyu.journeys.engine import new_run, step
from siyu.journeys.runner import FastState
from siyu.journeys.runtime import Event, RunState, Start, Timer
from siyu.journeys.schemas import JourneyVersion, parse_definition

from .runner_world import shanghai

DEFINITION = playbooks.complaint_response(
    complaint_tag_id=1, supervisor_staff_id=2, alert_url="https://a.example/x"
)
VERSION = JourneyVersion(journey_id=3, version=1, definition=parse_definition(DEFINITION))
NOW = shanghai(2026, 11, 2, 22)


def replay(state: RunState) -> list[Any]:
    """Start, two timers and an event; after each step, check the input state was left as it was."""
    seen: list[Any] = []
    stimuli: list[Any] = [Start(key="event:1", at=NOW, properties={"order": {"lines": [1, 2]}})]
    for _ in range(4):
        stimulus = stimuli.pop(0) if stimuli else None
        if stimulus is None:
            w = state.waiting
            assert w is not None
            stimulus = Timer(key=w.timer_key, at=w.until)
        before = state.model_dump()
        result = step(VERSION, state, stimulus, stimulus.at)
        assert state.model_dump() == before
        result.state.trigger.setdefault("order", {}).setdefault("lines", []).append(
            99
        )  # never reaches the input
        assert state.model_dump() == before
        result.state.trigger["order"]["lines"].pop()
        seen.append(
            (
                type(result.state) is FastState,
                result.state.model_dump(),
                [a.model_dump() for a in result.actions],
            )
        )
        state = result.state
    seen.append(
        step(VERSION, state, Event(key="event:2", name="Complaint Resolved", at=NOW), NOW).state.model_dump()
    )
    return seen


def test_fast_state_steps_exactly_like_run_state() -> None:
    plain = new_run(VERSION, "9", 42, "Asia/Shanghai")
    fast = FastState.model_validate(plain.model_dump())
    a, b = replay(plain), replay(fast)
    assert [x[1:] if isinstance(x, tuple) else x for x in a] == [
        x[1:] if isinstance(x, tuple) else x for x in b
    ]
    assert all(x[0] for x in b if isinstance(x, tuple))  # the copies stay FastState
