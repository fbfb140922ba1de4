"""The durable runner's unit of work: a `Batch` applies many stimuli in one transaction — starts (with the
re-entry policy), events and timers — through `engine.step`, stores each new `RunState` and hands the
actions to `Effects`, so a state and its side effects are committed together or not at all.

Runs are locked before they are stepped; the caller owns the transaction (`finish()` then commit).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import chunks
from siyu.messaging.history import customer_timezones
from siyu.messaging.sqlids import ids_value, text_in

from . import nodes as n
from . import store
from .assignment import HOLDOUT, assign
from .effects import Effects
from .engine import TASK_COMPLETED, new_run, step
from .entry import may_enter
from .runtime import Event, RunState, Start, StepResult, Timer
from .schemas import JourneyVersion
from .triggers import ReentryNever

Stimulus = Start | Event | Timer


@dataclass(frozen=True)
class Entry:
    """Start `journey_id` for `customer_id`; `key` is the trigger's idempotency key (`Start.key`)."""

    journey_id: int
    customer_id: int
    key: str
    at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


def listens_to(version: JourneyVersion) -> frozenset[str]:
    """Event names that can move a run of this version: waited events, the goal, task completions."""
    names = {node.event for node in version.definition.nodes if isinstance(node, n.WaitEventNode)}
    if any(isinstance(node, n.TaskNode) for node in version.definition.nodes):
        names.add(TASK_COMPLETED)
    if version.definition.goal is not None:
        names.add(version.definition.goal.event)
    return frozenset(names)


def experiment_arm(version: JourneyVersion, customer_id: int) -> tuple[str | None, float | None]:
    """The customer's arm in the journey's first split (assignment is deterministic, so it is known at
    entry, as analytics needs) and the arm's intended share; (None, None) without a split."""
    split = next((x for x in version.definition.nodes if isinstance(x, n.SplitNode)), None)
    if split is None:
        return None, None
    holdout = split.holdout_percent / 100
    chosen = assign(split, version.journey_id, customer_id)
    if chosen is None:
        return HOLDOUT, holdout
    total = sum(v.weight for v in split.variants)
    return chosen.name, (1 - holdout) * chosen.weight / total


class FastState(RunState):
    """A `RunState` whose deep copy (the engine copies the state it is given) copies the containers and
    shares the immutable values: the same result as pydantic's generic deep copy, several times cheaper."""

    @classmethod
    def of(cls, state: RunState) -> FastState:
        """The same state as a FastState (a shallow copy, as pydantic's `__copy__` makes)."""
        new = cls.__new__(cls)
        object.__setattr__(new, "__dict__", dict(state.__dict__))
        object.__setattr__(new, "__pydantic_fields_set__", set(state.__pydantic_fields_set__))
        object.__setattr__(new, "__pydantic_extra__", None)
        object.__setattr__(new, "__pydantic_private__", None)
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        """The engine sets a dozen fields per step; RunState validates no assignment, so a field is
        stored as pydantic's own `__setattr__` would store it, without its generic checks."""
        if name in _RUN_FIELDS:
            self.__dict__[name] = value
            self.__pydantic_fields_set__.add(name)
        else:
            super().__setattr__(name, value)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> FastState:
        new = self.__copy__()
        d = new.__dict__
        d["trigger"] = copy.deepcopy(d["trigger"], memo)
        d["visits"], d["variants"], d["consumed"] = (
            dict(d["visits"]),
            dict(d["variants"]),
            list(d["consumed"]),
        )
        return new


_RUN_FIELDS = frozenset(RunState.model_fields)
assert not RunState.model_config.get("validate_assignment")


def _parse(state: str | Mapping[str, Any]) -> FastState:
    return FastState.model_validate_json(state) if isinstance(state, str) else FastState.model_validate(state)


def timezones(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's IANA zone (trait `timezone`), else the brand zone."""
    return customer_timezones(session, customer_ids)


_INSERT_RUNS_PG = (
    "INSERT INTO journey_runs (journey_id, version, customer_id, entry_key, status, state, arm, entered_at,"
    " updated_at) SELECT j, v, c, k, 'pending', '{}'::jsonb, a, e, %s FROM unnest(%b::int[], %b::int[],"
    " %b::bigint[], %b::text[], %b::text[], %b::timestamptz[]) AS t(j, v, c, k, a, e)"
    " ON CONFLICT (journey_id, customer_id, entry_key) DO NOTHING RETURNING id, customer_id, entry_key"
)
_INSERT_RUNS_SQLITE = (
    "INSERT INTO journey_runs (journey_id, version, customer_id, entry_key, status, state, arm, entered_at,"
    " updated_at) VALUES {rows}"
    " ON CONFLICT (journey_id, customer_id, entry_key) DO NOTHING RETURNING id, customer_id, entry_key"
)


class Batch:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self.effects = Effects(now)
        self.runs: dict[int, store.RunRow] = {}
        self.changes: dict[int, dict[str, Any]] = {}
        self.names: dict[int, str] = {}
        self.entered = self.skipped = self.applied = 0
        self._conditions: dict[str, Any] = {}

    # --- starting runs -------------------------------------------------------------------------------

    def start(self, entries: Sequence[Entry], live: Sequence[store.LiveJourney] | None = None) -> list[int]:
        """Start runs for entries whose journey is active and whose re-entry policy allows it; returns the
        new run ids. An entry seen before (same journey, customer and key) starts nothing."""
        if not entries:
            return []
        journeys = {j.id: j for j in (live if live is not None else store.live_journeys(self.session))}
        wanted = [e for e in entries if e.journey_id in journeys]
        self.skipped += len(entries) - len(wanted)
        alive = self._alive({e.customer_id for e in wanted})
        zones = timezones(self.session, alive)
        started: list[int] = []
        by_journey: dict[int, list[Entry]] = {}
        for entry in wanted:
            by_journey.setdefault(entry.journey_id, []).append(entry)
        for jid, group in sorted(by_journey.items()):
            started += self._start_journey(journeys[jid], group, alive, zones)
        return started

    def _alive(self, ids: set[int]) -> set[int]:
        query = text_in(self.session, "SELECT id FROM customers WHERE {in} AND merged_into_id IS NULL", "id")
        return {int(cid) for cid in self.session.scalars(query, {"ids": ids_value(self.session, ids)})}

    def _start_journey(
        self, journey: store.LiveJourney, entries: list[Entry], alive: set[int], zones: dict[int, str]
    ) -> list[int]:
        version, reentry = journey.version, journey.version.definition.reentry
        facts = store.entry_facts(self.session, journey.id, [e.customer_id for e in entries])
        rows, chosen = [], []
        for e in sorted(entries, key=lambda x: (x.at, x.customer_id, x.key)):
            last, active = facts.get(e.customer_id, (None, False))
            if e.customer_id not in alive or not may_enter(
                reentry, last_entered_at=last, has_active_run=active, now=self.now
            ):
                self.skipped += 1
                continue
            facts[e.customer_id] = (e.at, True)
            arm, weight = experiment_arm(version, e.customer_id)
            entry_key = "once" if isinstance(reentry, ReentryNever) else e.key
            rows.append((journey.id, version.version, e.customer_id, entry_key[:300], arm, e.at))
            chosen.append((e, arm, weight))
        if fastsql.dialect(self.session) == "postgresql":
            return self._start_stepped(journey, rows, chosen, zones)
        ids = self._insert_runs(rows)
        new: list[int] = []
        for (e, arm, weight), row in zip(chosen, rows, strict=True):
            run_id = ids.get((e.customer_id, str(row[3])))
            if run_id is None:
                self.skipped += 1  # another transaction started it first
                continue
            fresh = new_run(version, str(run_id), e.customer_id, zones.get(e.customer_id, "Asia/Shanghai"))
            start = Start(key=e.key, at=e.at, properties=dict(e.properties))
            result = step(version, FastState.of(fresh), start, min(e.at, self.now), evaluate=self._evaluate)
            self.effects.entered(result.state, journey.name, arm, weight)
            run = store.RunRow(run_id, journey.id, version.version, e.customer_id, "pending", {}, arm)
            self.runs[run_id], self.names[journey.id] = run, journey.name
            self.effects.step(result, journey.name, arm)
            self._update(run, result)
            new.append(run_id)
        self.entered += len(new)
        return new

    def _start_stepped(
        self,
        journey: store.LiveJourney,
        rows: list[tuple[Any, ...]],
        chosen: list[tuple[Entry, str | None, float | None]],
        zones: dict[int, str],
    ) -> list[int]:
        """PostgreSQL: draw the run ids, take each run's first step, then insert the runs with the state
        that step produced (one write per run instead of an insert and an update). Effects are kept only
        for the runs inserted; an entry another transaction started first is skipped."""
        version = journey.version
        ids = store.next_run_ids(self.session, len(rows))
        stepped = []
        for run_id, (e, arm, weight) in zip(ids, chosen, strict=True):
            fresh = new_run(version, str(run_id), e.customer_id, zones.get(e.customer_id, "Asia/Shanghai"))
            start = Start(key=e.key, at=e.at, properties=dict(e.properties))
            result = step(version, FastState.of(fresh), start, min(e.at, self.now), evaluate=self._evaluate)
            stepped.append((run_id, e, arm, weight, result))
        values = [
            (run_id, *row, *self._columns(result.state).values())
            for (run_id, _e, _a, _w, result), row in zip(stepped, rows, strict=True)
        ]
        inserted = store.insert_runs(self.session, values)
        new: list[int] = []
        for run_id, e, arm, weight, result in stepped:
            if run_id not in inserted:
                self.skipped += 1  # another transaction started it first
                continue
            self.effects.entered(result.state, journey.name, arm, weight)
            self.effects.step(result, journey.name, arm)
            run = store.RunRow(
                run_id, journey.id, version.version, e.customer_id, result.state.status, {}, arm
            )
            run.parsed = result.state
            self.runs[run_id], self.names[journey.id] = run, journey.name
            new.append(run_id)
        self.entered += len(new)
        return new

    def _insert_runs(self, rows: list[tuple[Any, ...]]) -> dict[tuple[int, str], int]:
        """Insert (journey, version, customer, entry key, arm, entered at) rows as pending runs; a row whose
        (journey, customer, entry key) exists is skipped. Returns (customer, entry key) → new run id.
        One statement per 500 rows: PostgreSQL unnests arrays (a short query psycopg parses once);
        SQLite takes a multi-row VALUES."""
        kind = fastsql.dialect(self.session)
        out: dict[tuple[int, str], int] = {}
        updated = fastsql.db_time(kind, self.now)
        for part in chunks(rows, 500):
            if kind == "postgresql":
                columns = list(zip(*part, strict=True))
                params: tuple[Any, ...] = (updated, *(list(c) for c in columns))
                sql = _INSERT_RUNS_PG
            else:
                marks = ", ".join(["(?, ?, ?, ?, 'pending', '{}', ?, ?, ?)"] * len(part))
                sql = _INSERT_RUNS_SQLITE.replace("{rows}", marks)
                params = tuple(
                    v
                    for jid, ver, cid, key, arm, at in part
                    for v in (jid, ver, cid, key, arm, fastsql.db_time(kind, at), updated)
                )
            for rid, cid, key in self.session.connection().exec_driver_sql(sql, params):
                out[(int(cid), str(key))] = int(rid)
        return out

    # --- moving runs on ------------------------------------------------------------------------------

    def deliver(self, stimuli: Sequence[tuple[int, Stimulus]]) -> int:
        """Apply stimuli to existing runs (locked here, in id order); returns how many changed a run."""
        wanted = sorted({rid for rid, _ in stimuli} - set(self.runs))
        self.runs.update(store.lock_runs(self.session, wanted))
        self.names.update(store.journey_names(self.session, {r.journey_id for r in self.runs.values()}))
        applied = 0
        for run_id, stimulus in sorted(stimuli, key=lambda x: x[0]):
            run = self.runs.get(run_id)
            if run is None or run.status == "exited":
                continue
            version = store.version(self.session, run.journey_id, run.version)
            state = run.parsed if isinstance(run.parsed, FastState) else _parse(run.state)
            waiting = state.waiting
            now = stimulus.at if isinstance(stimulus, Timer) else self.now
            result = step(
                version, state, stimulus, max(now, state.entered_at or now), evaluate=self._evaluate
            )
            if result.ignored is not None:
                continue
            timed_out = waiting is not None and waiting.kind == "task" and waiting.timer_key == stimulus.key
            if timed_out and waiting is not None and waiting.task_key:
                self.effects.overdue.add(waiting.task_key)
            self.effects.step(result, self.names.get(run.journey_id, ""), run.arm)
            self._update(run, result)
            applied += 1
        self.applied += applied
        return applied

    def _update(self, run: store.RunRow, result: StepResult) -> None:
        s = result.state
        run.parsed, run.status = s, s.status
        self.changes[run.id] = self._columns(s)

    def _columns(self, s: RunState) -> dict[str, Any]:
        """A run's stored columns for state `s` (in `store.RUN_COLUMNS` order)."""
        timer = s.waiting.until if s.waiting else (s.goal_deadline if s.status == "awaiting_goal" else None)
        return {
            "state": s.model_dump_json(), "status": s.status, "updated_at": self.now, "next_timer_at": timer,
            "exited_at": s.exited_at, "exit_reason": s.exit_reason, "converted_at": s.goal_reached_at,
        }  # fmt: skip

    def _evaluate(self, condition: Mapping[str, Any], state: RunState, now: datetime) -> bool:
        """A condition node, in the segment condition language, for this one customer."""
        from siyu.segments.compiler import members, scope_for
        from siyu.segments.schemas import parse_condition

        text = json.dumps(condition, sort_keys=True)
        node = self._conditions.get(text)
        if node is None:
            node = self._conditions[text] = parse_condition(dict(condition), field="condition")
        scope = scope_for(self.session, now, [state.customer_id])
        return self.session.execute(members(scope, node)).first() is not None

    def finish(self) -> None:
        """Write the changed runs and the gathered effects (the caller commits)."""
        store.write_runs(self.session, self.changes)
        self.effects.write(self.session)
        self.changes.clear()
