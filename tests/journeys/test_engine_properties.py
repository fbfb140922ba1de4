"""Hypothesis: any sequence of starts, events, task completions, timers and redeliveries gives the same
result on replay, never issues an action key twice, ignores consumed stimuli, and keeps timers consistent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.journeys.engine import TASK_COMPLETED
from siyu.journeys.runtime import Event, RunState, Start, StepResult, Timer

from .sim import Sim, shanghai

T0 = shanghai(2024, 3, 8, 20)

RICH = {
    "name": "everything",
    "triggers": [{"type": "manual"}],
    "start": "ab",
    "goal": {"event": "Order Completed", "within_hours": 24 * 6, "exit_on_goal": False},
    "nodes": [
        {"type": "split", "id": "ab", "holdout_percent": 20,
         "variants": [{"name": "A", "weight": 1, "next": "hello"},
                      {"name": "B", "weight": 1, "next": "watch"}]},
        {"type": "send", "id": "hello", "channel": "wecom", "template_id": "hi", "mass": True,
         "next": "watch"},
        {"type": "wait_event", "id": "watch", "event": "Order Completed", "timeout": {"hours": 30},
         "on_event": "thanks", "on_timeout": "call"},
        {"type": "send", "id": "thanks", "channel": "sms_aliyun", "template_id": "ty", "purpose": "service",
         "next": "bye"},
        {"type": "task", "id": "call", "title": "call", "sla_hours": 5, "done": "check",
         "not_done_in_time": "morning"},
        {"type": "wait", "id": "morning", "delay": {"type": "time_of_day", "at": "09:00"}, "next": "check"},
        {"type": "condition", "id": "check", "condition": {"type": "tag", "tag_id": 1}, "yes": "bye",
         "no": "hello"},
        {"type": "exit", "id": "bye"},
    ],
}  # fmt: skip


def evaluate(condition: Mapping[str, Any], state: RunState, now: datetime) -> bool:
    return state.visits.get("check", 0) >= 2  # loop twice, then leave


ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 60 * 40)),
        st.tuples(st.just("event"), st.sampled_from(["Order Completed", "Product Viewed", "Signed Up"])),
        st.tuples(st.just("task"), st.booleans()),
        st.tuples(st.just("redeliver"), st.integers(0, 10**6)),
        st.tuples(st.just("start"), st.booleans()),
    ),
    max_size=25,
)


def play(program: list[tuple[str, Any]], customer: int, zone: str) -> tuple[Sim, list[StepResult]]:
    sim = Sim(RICH, now=T0, customer_id=customer, timezone=zone, evaluate=evaluate)
    delivered: list[Start | Event | Timer] = []
    results = [sim.start(key="start:0")]
    delivered.append(Start(key="start:0", at=T0))
    for i, (op, arg) in enumerate(program):
        if op == "advance":
            results += sim.advance(minutes=arg)
            continue
        if op == "event":
            stimulus: Start | Event | Timer = Event(key=f"e{i}", name=arg, at=sim.now, properties={})
        elif op == "task":
            waiting = sim.state.waiting
            task_key = waiting.task_key if arg and waiting is not None else "journey:r1:call:99"
            stimulus = Event(key=f"t{i}", name=TASK_COMPLETED, at=sim.now, properties={"task_key": task_key})
        elif op == "start":
            stimulus = Start(key="start:0" if arg else f"start:{i}", at=sim.now)
        else:
            if not delivered:
                continue
            stimulus = delivered[arg % len(delivered)]
            before = sim.state.model_copy(deep=True)
            if stimulus.key in before.consumed:
                replay = sim.apply(stimulus)
                assert replay.ignored == "already consumed" and replay.actions == []
                assert sim.state == before
                continue
        delivered.append(stimulus)
        results.append(sim.apply(stimulus))
    return sim, results


@settings(max_examples=150, deadline=None)
@given(
    program=ops, customer=st.integers(1, 10**9), zone=st.sampled_from(["Asia/Shanghai", "America/New_York"])
)
def test_any_stimulus_sequence_is_replayable_and_consistent(
    program: list[tuple[str, Any]], customer: int, zone: str
) -> None:
    sim, results = play(program, customer, zone)
    again, results_again = play(program, customer, zone)
    assert results == results_again and sim.state == again.state  # deterministic replay

    finished = False
    for result in results:
        if finished:
            assert result.ignored is not None and result.actions == []
        finished = finished or result.state.status == "exited"
    state = sim.state
    if state.status == "active":
        assert state.waiting is not None and state.waiting.timer_key in sim.timers
    if state.status == "awaiting_goal":
        assert state.waiting is None and "journey:r1:goal-window" in sim.timers
    if state.status == "exited":
        assert sim.timers == {} or all(k.endswith(":timer") for k in sim.timers)  # only stale ones remain
    assert state.variants["ab"] in ("A", "B", "holdout")
    if state.variants["ab"] == "holdout":
        assert not any(a.type == "send_message" for a in sim.actions)
    assert state.steps == sum(1 for a in sim.actions if a.type == "node_entered")
    assert all(a.at >= T0 for a in sim.actions if a.type == "schedule_timer")
    assert sum(1 for a in sim.actions if a.type == "exit") <= 1
    assert sum(1 for a in sim.actions if a.type == "goal_reached") <= 1
    assert state.goal_deadline == T0 + timedelta(days=6)
