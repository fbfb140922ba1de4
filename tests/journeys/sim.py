"""A tiny in-memory runner for tests: drives one run through `engine.step` on a simulated clock, keeps
its timers, and checks on every step that no action key is ever issued twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from siyu.journeys.engine import TASK_COMPLETED, new_run, step
from siyu.journeys.runtime import Action, Event, RunState, Start, StepResult, Timer
from siyu.journeys.schemas import JourneyVersion, parse_definition

A = TypeVar("A")
Evaluate = Callable[[Mapping[str, Any], RunState, datetime], bool]


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Shanghai wall time (UTC+8, no DST) as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


class Sim:
    def __init__(
        self,
        definition: dict[str, Any],
        *,
        now: datetime,
        customer_id: int = 1,
        timezone: str = "Asia/Shanghai",
        evaluate: Evaluate | None = None,
        run_id: str = "r1",
        journey_id: int = 7,
    ) -> None:
        self.version = JourneyVersion(
            journey_id=journey_id, version=1, definition=parse_definition(definition)
        )
        self.state = new_run(self.version, run_id, customer_id, timezone)
        self.now = now
        self.evaluate = evaluate
        self.timers: dict[str, datetime] = {}
        self.actions: list[Action] = []
        self.keys: set[str] = set()
        self._n = 0

    def apply(self, stimulus: Start | Event | Timer) -> StepResult:
        result = step(self.version, self.state, stimulus, self.now, evaluate=self.evaluate)
        self.state = result.state
        for action in result.actions:
            if action.type == "cancel_timer":
                assert action.key in self.keys
                self.timers.pop(action.key, None)
                continue
            assert action.key not in self.keys, f"key issued twice: {action.key}"
            self.keys.add(action.key)
            if action.type == "schedule_timer":
                self.timers[action.key] = action.at
        self.actions.extend(result.actions)
        return result

    def start(self, key: str = "start:1", **properties: Any) -> StepResult:
        return self.apply(Start(key=key, at=self.now, properties=properties))

    def event(
        self, name: str, *, key: str | None = None, at: datetime | None = None, **props: Any
    ) -> StepResult:
        self._n += 1
        return self.apply(
            Event(key=key or f"event:{self._n}", name=name, at=at or self.now, properties=props)
        )

    def complete_task(self, task_key: str) -> StepResult:
        return self.event(TASK_COMPLETED, task_key=task_key)

    def run_until(self, until: datetime) -> list[StepResult]:
        """Fire every due timer in time order (the clock jumps to each), then set the clock to `until`."""
        results = []
        while self.timers and min(self.timers.values()) <= until:
            key = min(self.timers, key=lambda k: self.timers[k])
            at = self.timers.pop(key)
            self.now = max(self.now, at)
            results.append(self.apply(Timer(key=key, at=at)))
        self.now = max(self.now, until)
        return results

    def advance(self, **delta: float) -> list[StepResult]:
        return self.run_until(self.now + timedelta(**delta))

    def of(self, kind: type[A]) -> list[A]:
        return [a for a in self.actions if isinstance(a, kind)]

    def path(self) -> list[str]:
        return [a.node_id for a in self.actions if a.type == "node_entered"]
