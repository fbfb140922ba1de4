"""`siyu segments list|rebuild` and `siyu worker --once` against a real database."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.clock import now
from siyu.core.database import unit_of_work
from siyu.segments import service
from siyu.segments.schemas import SegmentCreate
from siyu.segments.tables import SegmentMember
from tests.segments.world import World

runner = CliRunner()
GOLD = {"type": "trait", "name": "plan", "op": "eq", "value": "gold"}


def test_list_and_rebuild(db_url: str) -> None:
    with unit_of_work() as s:
        w = World(s, now())
        alice = w.identify("alice", plan="gold")
        body = SegmentCreate(name="金卡", definition={"version": 1, "root": GOLD})
        sid = service.create(s, body, actor="t", now=w.now, build=False).id
    listed = runner.invoke(app, ["segments", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [
        {"id": sid, "name": "金卡", "kind": "dynamic", "version": 1, "members": 0, "last_rebuilt_at": None}
    ]
    rebuilt = runner.invoke(app, ["segments", "rebuild", str(sid), "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    result = json.loads(rebuilt.stdout)
    assert [(r["kind"], r["id"], r["entered"], r["members"]) for r in result] == [("segment", sid, 1, 1)]
    with unit_of_work() as s:
        assert s.get(SegmentMember, (sid, alice)) is not None
    everything = runner.invoke(app, ["segments", "rebuild", "--all", "--json"])
    assert everything.exit_code == 0 and json.loads(everything.stdout)[0]["entered"] == 0
    assert runner.invoke(app, ["segments", "rebuild"]).exit_code == 2
    missing = runner.invoke(app, ["segments", "rebuild", "999"])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_worker_once_drains_the_queue(db_url: str) -> None:
    with unit_of_work() as s:
        w = World(s, now())
        alice = w.identify("alice", plan="gold")
        sid = service.create(
            s, SegmentCreate(name="金卡", definition={"version": 1, "root": GOLD}), actor="t", now=w.now
        ).id
        w.identify("alice", plan="silver")
        from siyu.segments.queue import enqueue_now

        enqueue_now(s, [alice], w.now)
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    with unit_of_work() as s:
        assert s.get(SegmentMember, (sid, alice)) is None
