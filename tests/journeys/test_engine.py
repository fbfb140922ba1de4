"""The step function: idempotent replays, stale stimuli, waits, tasks, goals, loops, splits, persistence."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from siyu.journeys.assignment import assign, bucket
from siyu.journeys.engine import new_run, step
from siyu.journeys.runtime import (
    MAX_CONSUMED,
    Action,
    CallWebhook,
    Event,
    Exit,
    GoalReached,
    RemoveTag,
    RunState,
    SendMessage,
    Start,
    Stimulus,
    Timer,
    UpdateTrait,
)
from siyu.journeys.schemas import JourneyVersion, SplitNode, parse_definition

from .sim import Sim, shanghai

T0 = shanghai(2024, 5, 1, 12)


def journey(
    *nodes: dict[str, Any], goal: dict[str, Any] | None = None, start: str | None = None
) -> dict[str, Any]:
    first = start or nodes[0]["id"]
    return {"name": "t", "triggers": [{"type": "manual"}], "start": first, "nodes": list(nodes), "goal": goal}


WAIT_EVENT = journey(
    {"type": "wait_event", "id": "w", "event": "Order Completed", "timeout": {"hours": 48},
     "where": [{"property": "total", "op": "gt", "value": 0}], "on_event": "yes", "on_timeout": "no"},
    {"type": "exit", "id": "yes", "reason": "ordered"},
    {"type": "exit", "id": "no", "reason": "timeout"},
)  # fmt: skip


def version_of(definition: dict[str, Any]) -> JourneyVersion:
    return JourneyVersion(journey_id=7, version=1, definition=parse_definition(definition))


def test_step_is_pure_and_deterministic() -> None:
    version = version_of(WAIT_EVENT)
    state = new_run(version, "r1", 42, "Asia/Shanghai")
    before = state.model_copy(deep=True)
    start = Start(key="s", at=T0)
    first, second = step(version, state, start, T0), step(version, state, start, T0)
    assert state == before  # the input is never modified
    assert first == second
    assert first.state.status == "active" and first.state.consumed == ["s"]


def test_a_consumed_stimulus_is_ignored_on_replay() -> None:
    version = version_of(WAIT_EVENT)
    started = step(version, new_run(version, "r1", 1, "UTC"), Start(key="s", at=T0), T0).state
    order = Event(key="e1", name="Order Completed", at=T0 + timedelta(hours=1), properties={"total": 10})
    done = step(version, started, order, T0 + timedelta(hours=1))
    assert done.state.exit_reason == "ordered"
    replay = step(version, done.state, order, T0 + timedelta(hours=2))
    assert replay.ignored == "already consumed" and replay.actions == [] and replay.state is done.state
    assert step(version, done.state, Start(key="s2", at=T0), T0).ignored == "run already started"
    assert step(version, started, Start(key="s2", at=T0), T0).ignored == "run already started"


def test_event_wait_accepts_only_matching_events_inside_its_window() -> None:
    sim = Sim(WAIT_EVENT, now=T0)
    sim.start()
    assert sim.event("Order Completed", at=T0 - timedelta(minutes=1), total=5).ignored  # before the wait
    assert sim.event("Order Completed", total=0).ignored  # filter: total > 0
    assert sim.event("Product Viewed", total=5).ignored
    assert sim.event("Order Completed", at=T0 + timedelta(hours=49), total=5).ignored  # after the timeout
    sim.advance(hours=47)
    sim.event("Order Completed", total=5)
    assert sim.state.exit_reason == "ordered" and sim.timers == {}


def test_timeout_then_late_event_and_stale_timer() -> None:
    sim = Sim(WAIT_EVENT, now=T0)
    sim.start()
    timer_key = next(iter(sim.timers))
    sim.advance(hours=48)
    assert sim.state.exit_reason == "timeout"
    assert sim.event("Order Completed", total=5).ignored == "run is exited"
    assert sim.apply(Timer(key=timer_key, at=sim.now)).ignored == "already consumed"
    assert sim.apply(Timer(key="journey:r1:w:9:timer", at=sim.now)).ignored == "stale timer"


def test_unknown_timer_on_an_active_run_is_stale() -> None:
    sim = Sim(WAIT_EVENT, now=T0)
    sim.start()
    assert sim.apply(Timer(key="journey:r1:w:2:timer", at=T0)).ignored == "stale timer"


LOOP = journey(
    {"type": "send", "id": "nudge", "channel": "sms_tencent", "template_id": "n", "next": "pause"},
    {"type": "wait", "id": "pause", "delay": {"type": "duration", "days": 2}, "next": "check"},
    {"type": "condition", "id": "check", "condition": {"type": "tag", "tag_id": 1}, "yes": "out",
     "no": "nudge"},
    {"type": "exit", "id": "out"},
)  # fmt: skip


def test_a_loop_numbers_its_attempts_so_keys_stay_unique() -> None:
    answers = iter([False, False, True])
    sim = Sim(LOOP, now=T0, evaluate=lambda condition, state, now: next(answers))
    sim.start()
    sim.advance(days=10)
    assert [m.key for m in sim.of(SendMessage)] == [
        "journey:r1:nudge:1",
        "journey:r1:nudge:2",
        "journey:r1:nudge:3",
    ]
    assert sim.state.visits == {"nudge": 3, "pause": 3, "check": 3, "out": 1}
    assert sim.state.exit_reason == "completed"


def test_a_condition_needs_an_evaluator() -> None:
    sim = Sim(LOOP, now=T0)
    sim.start()
    with pytest.raises(ValueError, match="needs an evaluate callable"):
        sim.advance(days=3)


def test_wrong_version_and_naive_time_are_programming_errors() -> None:
    version = version_of(WAIT_EVENT)
    state = new_run(version, "r1", 1, "UTC")
    other = JourneyVersion(journey_id=7, version=2, definition=version.definition)
    with pytest.raises(ValueError, match="version 1 of journey 7"):
        step(other, state, Start(key="s", at=T0), T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        step(version, state, Start(key="s", at=T0), datetime(2024, 5, 1))


def test_wait_until_local_time_of_day_across_dst() -> None:
    wait = {"type": "wait", "id": "w", "delay": {"type": "time_of_day", "at": "10:00"}, "next": "x"}
    morning = journey(wait, {"type": "exit", "id": "x"})
    sim = Sim(morning, now=datetime(2024, 3, 9, 17, 0, tzinfo=UTC), timezone="America/New_York")  # 12:00 EST
    sim.start()
    assert list(sim.timers.values()) == [
        datetime(2024, 3, 10, 14, 0, tzinfo=UTC)
    ]  # 10:00 EDT: 22 hours later


def test_goal_reached_exits_and_cancels_the_wait() -> None:
    goal = {
        "event": "Order Completed",
        "within_hours": 24,
        "where": [{"property": "total", "op": "gte", "value": 100}],
    }
    sim = Sim(journey(*WAIT_EVENT["nodes"], goal=goal), now=T0)
    sim.start()
    taken = sim.event("Order Completed", total=50)  # answers the wait (total > 0), not the goal (≥ 100)
    assert [a.type for a in taken.actions] == ["cancel_timer", "node_entered", "exit", "schedule_timer"]
    assert sim.state.exit_reason == "ordered" and sim.state.status == "awaiting_goal"
    sim.event("Order Completed", at=T0 - timedelta(hours=1), total=500)
    assert sim.of(GoalReached) == []  # before entering
    sim.event("Order Completed", total=500, key="event:big")
    assert [g.event_key for g in sim.of(GoalReached)] == ["event:big"]
    assert sim.state.status == "exited" and sim.timers == {}


def test_exit_on_goal_while_waiting() -> None:
    sim = Sim(journey(*LOOP["nodes"], goal={"event": "Order Completed", "within_hours": 72}), now=T0)
    sim.start()
    sim.advance(hours=1)
    sim.event("Order Completed")
    assert sim.of(Exit)[-1].reason == "goal" and sim.state.status == "exited" and sim.timers == {}
    assert sim.event("Order Completed").ignored == "run is exited"


def test_goal_window_closes_after_the_path_ends() -> None:
    sim = Sim(journey(*WAIT_EVENT["nodes"], goal={"event": "Signed Up", "within_hours": 72}), now=T0)
    sim.start()
    sim.advance(hours=48)
    assert sim.state.status == "awaiting_goal"
    sim.advance(hours=24)
    assert sim.state.status == "exited" and sim.state.goal_reached_at is None
    assert sim.state.exited_at == T0 + timedelta(hours=72)


def test_side_effect_nodes() -> None:
    nodes = journey(
        {"type": "update_trait", "id": "t", "trait": "vip_level", "value": 2, "next": "r"},
        {"type": "tag", "id": "r", "action": "remove", "tag_id": 8, "next": "h"},
        {"type": "webhook", "id": "h", "url": "https://crm.example/hook", "body": {"k": "v"}, "next": "x"},
        {"type": "exit", "id": "x", "reason": "done"},
    )
    sim = Sim(nodes, now=T0, customer_id=99)
    sim.start()
    trait = sim.of(UpdateTrait)[0]
    assert (trait.key, trait.customer_id, trait.trait, trait.value) == ("journey:r1:t:1", 99, "vip_level", 2)
    assert sim.of(RemoveTag)[0].tag_id == 8
    hook = sim.of(CallWebhook)[0]
    assert hook.payload == {"event": "journey.webhook", "journey_id": 7, "version": 1, "run_id": "r1",
                            "node_id": "h", "customer_id": 99, "at": T0.isoformat(), "variants": {},
                            "data": {"k": "v"}}  # fmt: skip
    assert sim.state.status == "exited"


def test_state_actions_and_stimuli_survive_json() -> None:
    sim = Sim(LOOP, now=T0, evaluate=lambda c, s, n: False)
    sim.start()
    sim.advance(days=3)
    assert RunState.model_validate_json(sim.state.model_dump_json()) == sim.state
    actions = TypeAdapter(list[Action])
    assert actions.validate_json(actions.dump_json(sim.actions)) == sim.actions
    stimulus = TypeAdapter(Stimulus).validate_json(
        '{"type": "timer", "key": "k", "at": "2024-05-01T00:00:00Z"}'
    )
    assert isinstance(stimulus, Timer) and stimulus.at.tzinfo is not None


def test_consumed_keys_are_bounded_and_old_timers_stay_stale() -> None:
    sim = Sim(LOOP, now=T0, evaluate=lambda c, s, n: False)
    sim.start()
    first_timer = next(iter(sim.timers))
    sim.advance(days=2 * (MAX_CONSUMED + 5))
    assert len(sim.state.consumed) == MAX_CONSUMED and first_timer not in sim.state.consumed
    assert sim.apply(Timer(key=first_timer, at=sim.now)).ignored == "stale timer"


SPLIT = {
    "type": "split",
    "id": "ab",
    "holdout_percent": 10,
    "variants": [{"name": "A", "weight": 1, "next": "x"}, {"name": "B", "weight": 3, "next": "x"}],
}


def test_split_assignment_is_stable_and_follows_the_weights() -> None:
    node = SplitNode.model_validate(SPLIT)
    counts = Counter(
        "holdout" if (v := assign(node, 3, customer)) is None else v.name for customer in range(20_000)
    )
    assert abs(counts["holdout"] / 20_000 - 0.10) < 0.01
    assert abs(counts["A"] / 20_000 - 0.225) < 0.015 and abs(counts["B"] / 20_000 - 0.675) < 0.015
    assert bucket(3, "ab", 12345) == bucket(3, "ab", 12345) != bucket(4, "ab", 12345)


def test_the_same_customer_gets_the_same_variant_in_every_version() -> None:
    definition = journey(SPLIT, {"type": "exit", "id": "x"})
    picks = set()
    for version in (1, 2, 3):
        v = JourneyVersion(journey_id=3, version=version, definition=parse_definition(definition))
        result = step(v, new_run(v, f"r{version}", 555, "UTC"), Start(key="s", at=T0), T0)
        picks.add(result.state.variants["ab"])
    assert len(picks) == 1
