"""WeCom mass sends read back (siyu.messaging.confirmations): a journey's mass send waits for the staff
member, then each customer's row becomes sent (`Message Delivered`) or failed with WeCom's reason, or
expires; polling again records nothing twice; rate limits stop a run. SQLite and PostgreSQL, real
dispatch through the real `wecom` channel against the fake WeCom server, on a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from siyu.journeys import service
from siyu.messaging import confirmations
from siyu.messaging.confirmations import TaskState, Waiting, judge, run_confirmations
from siyu.messaging.tables import MessageLog
from siyu.worker.jobs import JOBS, load
from tests.journeys.runner_world import World, events, shanghai
from tests.wecom.fakes import ScriptedWeCom, channel_for, scripted_wecom

__all__ = ["scripted_wecom"]

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
EXPIRY = timedelta(hours=72)


def mass_send(name: str = "群发") -> dict[str, Any]:
    return {
        "name": name, "triggers": [{"type": "manual"}], "start": "send",
        "nodes": [{"type": "send", "id": "send", "channel": "wecom", "template_id": "news",
                   "purpose": "service", "mass": True, "next": "done"}, {"type": "exit", "id": "done"}],
    }  # fmt: skip


@pytest.fixture
def world(db_url: str, frozen_clock: Any, scripted_wecom: ScriptedWeCom) -> Any:
    from siyu.channels import registry

    frozen_clock.current = shanghai(2026, 11, 2, 10)
    w = World(db_url, frozen_clock)
    registry.install(channel_for(scripted_wecom), as_name="wecom")
    w.template("news", "wecom", "新品到店,欢迎来看看")
    yield w
    registry.reset()


def customers(w: World, n: int) -> list[int]:
    ids = []
    for i in range(1, n + 1):
        cid = w.identify(f"c{i}", wecom_external_userid=f"wm{i}")
        w.owner(cid)
        ids.append(cid)
    return ids


def poll(w: World) -> int:
    return run_confirmations(w.factory, w.now)


def by_customer(w: World) -> dict[int, tuple[str, str | None]]:
    return {r.customer_id: (r.status, r.reason_code) for r in w.outbox(channel="wecom")}


def test_mass_send_is_tracked_until_each_customer_has_an_outcome(
    world: World, scripted_wecom: ScriptedWeCom
) -> None:
    w, fake = world, scripted_wecom
    c1, c2, c3, c4 = customers(w, 4)
    jid = w.journey(mass_send())
    w.trigger(jid, [c1, c2, c3, c4])
    w.drive()
    (call,) = fake.calls_to("externalcontact/add_msg_template")
    assert call["sender"] == "zhangsan" and sorted(call["external_userid"]) == ["wm1", "wm2", "wm3", "wm4"]
    assert {s for s, _ in by_customer(w).values()} == {"queued_for_confirmation"}
    (msgid,) = {r.provider_id for r in w.outbox(channel="wecom")}
    assert msgid is not None

    # Not confirmed yet: WeCom is asked about the task only, nothing is decided.
    assert poll(w) == 0
    assert len(fake.calls_to("externalcontact/get_groupmsg_task")) == 1
    assert fake.calls_to("externalcontact/get_groupmsg_send_result") == []
    assert set(by_customer(w).values()) == {("queued_for_confirmation", "awaiting_staff")}

    # The staff member sends; WeCom reports per customer. c4 was left out by the staff member (status 0).
    w.clock.current = w.now + timedelta(hours=1)
    fake.statuses = {"wm2": 2, "wm3": 3, "wm4": 0}
    fake.confirm(msgid)
    assert poll(w) == 3
    assert by_customer(w) == {
        c1: ("sent", "confirmed_sent"),
        c2: ("failed", "not_a_friend"),
        c3: ("failed", "mass_limit_reached"),
        c4: ("queued_for_confirmation", "awaiting_result"),
    }
    (delivered,) = events(w, "Message Delivered")
    assert delivered["customer_id"] == c1 and delivered["msgid"] == msgid
    assert delivered["sender"] == "zhangsan" and delivered["status"] == "sent"
    assert delivered["journey_id"] == str(jid) and delivered["node_id"] == "send"
    assert w.clock.current - timedelta(seconds=1) <= _aware(delivered["at"]) <= w.clock.current
    failed = {e["customer_id"]: e["reason"] for e in events(w, "Message Failed")}
    assert failed == {c2: "not_a_friend", c3: "mass_limit_reached"}

    # Polling again changes nothing and records nothing twice.
    assert poll(w) == 0
    assert len(list(events(w, "Message Delivered"))) == 1 and len(list(events(w, "Message Failed"))) == 2

    # c4 expires: failed with expired_unconfirmed; after that nothing is waiting, WeCom is not asked.
    w.clock.current = w.now + EXPIRY
    assert poll(w) == 1
    assert by_customer(w)[c4] == ("failed", "expired_unconfirmed")
    asked = len(fake.calls)
    assert poll(w) == 0 and len(fake.calls) == asked

    with w.session() as s:
        counts = service.stats(s, jid)
        logged = set(s.scalars(select(MessageLog.customer_id)))
    assert counts["arms"]["all"]["sent"] == 4
    assert counts["arms"]["all"]["delivered"] == 1 and counts["arms"]["all"]["failed"] == 3
    assert counts["messages"] == {"sent": 1, "failed": 3}
    assert logged == {c1}  # sends that never reached the customer use no contact budget


def test_two_runs_reading_the_same_rows_record_each_outcome_once(
    world: World, scripted_wecom: ScriptedWeCom
) -> None:
    w, fake = world, scripted_wecom
    c1, c2 = customers(w, 2)
    jid = w.journey(mass_send())
    w.trigger(jid, [c1, c2])
    w.drive()
    (msgid,) = {r.provider_id for r in w.outbox(channel="wecom")}
    assert msgid is not None
    fake.statuses = {"wm2": 2}
    fake.confirm(msgid)
    source = confirmations.wecom_source()
    assert source is not None
    verdicts = []
    for _run in range(2):  # both runs read the rows before either writes
        with w.session() as s:
            ((key, rows),) = confirmations.waiting_tasks(s, 10).items()
        assert key == msgid and len(rows) == 2
        verdicts.append(judge(rows, confirmations.ask(source, msgid, "zhangsan"), w.now, EXPIRY))
    written = []
    for found in verdicts:
        with w.session() as s:
            written.append(confirmations.apply(s, found, w.now))
    assert written[0] == {"delivered": 1, "failed": 1} and not written[1]
    assert len(list(events(w, "Message Delivered"))) == len(list(events(w, "Message Failed"))) == 1
    with w.session() as s:
        counts = service.stats(s, jid)["arms"]["all"]
    assert (counts["delivered"], counts["failed"]) == (1, 1)


def test_operators_see_the_confirmation_state_in_the_messages_api(
    world: World, scripted_wecom: ScriptedWeCom, api: httpx.Client
) -> None:
    w, fake = world, scripted_wecom
    c1, c2 = customers(w, 2)
    jid = w.journey(mass_send())
    w.trigger(jid, [c1, c2])
    w.drive()
    poll(w)
    listed = api.get("/api/v1/messages", params={"journey_id": jid}).json()
    waiting = {(m["status"], m["reason_code"]) for m in listed}
    assert waiting == {("queued_for_confirmation", "awaiting_staff")}
    assert all(m["reason_zh"] and m["reason_en"] and m["provider_id"] for m in listed)
    fake.statuses = {"wm2": 3}
    fake.confirm(listed[0]["provider_id"])
    poll(w)
    listed = api.get("/api/v1/messages", params={"journey_id": jid}).json()
    assert {m["customer_id"]: (m["status"], m["reason_code"]) for m in listed} == {
        c1: ("sent", "confirmed_sent"), c2: ("failed", "mass_limit_reached")}  # fmt: skip


def test_tasks_are_taken_least_recently_checked_first_and_waiting_rows_are_not_rewritten(
    world: World, scripted_wecom: ScriptedWeCom, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.core.settings import get_settings

    w, fake = world, scripted_wecom
    c1, c2, c3 = customers(w, 3)
    w.owner(c3, userid="lisi", name="李四")  # another sender: another task
    w.trigger(w.journey(mass_send()), [c1, c2, c3])
    w.drive()
    senders = sorted(c["sender"] for c in fake.calls_to("externalcontact/add_msg_template"))
    assert senders == ["lisi", "zhangsan"]
    monkeypatch.setenv("SIYU_WECOM_CONFIRMATION_MAX_TASKS", "1")
    get_settings.cache_clear()
    asked = []
    for _poll in range(4):
        w.clock.current = w.now + timedelta(minutes=5)
        before = len(fake.calls_to("externalcontact/get_groupmsg_task"))
        poll(w)
        (task,) = fake.calls_to("externalcontact/get_groupmsg_task")[before:]
        asked.append(fake.templates[task["msgid"]]["sender"])
    assert asked[0] != asked[1] and asked[:2] == asked[2:]
    stamps = {r.customer_id: r.updated_at for r in w.outbox(channel="wecom")}
    # c1 and c2 share zhangsan's task: only its first row carries the check time once the reason is set
    assert stamps[c1] > stamps[c2]


def test_rate_limit_stops_the_run_and_the_next_run_carries_on(
    world: World, scripted_wecom: ScriptedWeCom
) -> None:
    w, fake = world, scripted_wecom
    (c1,) = customers(w, 1)
    w.trigger(w.journey(mass_send()), [c1])
    w.drive()
    (msgid,) = {r.provider_id for r in w.outbox(channel="wecom")}
    assert msgid is not None
    fake.confirm(msgid)
    fake.fail_next(45009)
    assert poll(w) == 0
    assert by_customer(w)[c1][0] == "queued_for_confirmation"
    assert poll(w) == 1
    assert by_customer(w)[c1] == ("sent", "confirmed_sent")


def test_permanent_errcode_leaves_rows_waiting_until_they_expire(
    world: World, scripted_wecom: ScriptedWeCom
) -> None:
    w, fake = world, scripted_wecom
    (c1,) = customers(w, 1)
    w.trigger(w.journey(mass_send()), [c1])
    w.drive()
    fake.fail_next(41063)  # e.g. the task is still being created
    assert poll(w) == 0
    assert by_customer(w)[c1] == ("queued_for_confirmation", "awaiting_staff")
    w.clock.current = w.now + EXPIRY
    fake.fail_next(41063)
    assert poll(w) == 1
    assert by_customer(w)[c1] == ("failed", "expired_unconfirmed")


def test_without_a_wecom_channel_rows_only_expire(world: World) -> None:
    from siyu.channels import registry
    from siyu.channels.memory import MemoryChannel

    w = world
    (c1,) = customers(w, 1)
    w.trigger(w.journey(mass_send()), [c1])
    w.drive()
    registry.install(MemoryChannel(name="wecom"), as_name="wecom")  # cannot read confirmations back
    assert poll(w) == 0
    w.clock.current = w.now + EXPIRY
    assert poll(w) == 1
    assert by_customer(w)[c1] == ("failed", "expired_unconfirmed")


def test_the_job_is_registered_with_its_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from siyu.core.settings import get_settings

    load()
    job = JOBS["messaging.wecom_confirmations"]
    assert job.run is run_confirmations and job.schedule is not None
    assert job.schedule(None, NOW) and not job.schedule(NOW, NOW + timedelta(seconds=299))
    assert job.schedule(NOW, NOW + timedelta(seconds=300))
    monkeypatch.setenv("SIYU_WECOM_CONFIRMATION_INTERVAL_S", "0")
    get_settings.cache_clear()
    try:
        assert not job.schedule(None, NOW)
    finally:
        monkeypatch.delenv("SIYU_WECOM_CONFIRMATION_INTERVAL_S")
        get_settings.cache_clear()


# --- the pure verdicts -------------------------------------------------------------------------------


def waiting(address: str | None = "wm1", *, group: bool = False, age_h: float = 1) -> Waiting:
    return Waiting(1, "k1", 7, 3, 1, "send", "", "wecom", "news", "marketing", "msg1", "zhangsan", group,
                   NOW - timedelta(hours=age_h), address)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [(1, "delivered", "confirmed_sent"), (2, "failed", "not_a_friend"), (3, "failed", "mass_limit_reached"),
     (0, "waiting", "awaiting_result"), (9, "waiting", "awaiting_result")],
)  # fmt: skip
def test_send_result_statuses(status: int, outcome: str, reason: str) -> None:
    state = TaskState(confirmed=True, results={"wm1": (status, None)})
    (v,) = judge([waiting()], state, NOW, EXPIRY)
    assert (v.outcome, v.reason) == (outcome, reason) and v.zh and v.en


def test_verdicts_without_a_result() -> None:
    confirmed = TaskState(confirmed=True, results={})
    cases = {
        "unasked": (waiting(), None),
        "unconfirmed": (waiting(), TaskState(confirmed=False)),
        "error": (waiting(), TaskState(error="WeCom errcode 41063")),
        "no address": (waiting(None), confirmed),
    }
    for name, (row, state) in cases.items():
        (v,) = judge([row], state, NOW, EXPIRY)
        assert v.outcome == "waiting", name
    (group,) = judge([waiting(group=True)], confirmed, NOW, EXPIRY)
    assert group.outcome == "delivered"


def test_expiry_applies_to_anything_still_waiting() -> None:
    old = waiting(age_h=72)
    for state in (None, TaskState(confirmed=False), TaskState(confirmed=True, results={"wm1": (0, None)})):
        (v,) = judge([old], state, NOW, EXPIRY)
        assert (v.outcome, v.reason) == ("failed", confirmations.EXPIRED)
    (late_but_sent,) = judge([old], TaskState(confirmed=True, results={"wm1": (1, 5)}), NOW, EXPIRY)
    assert late_but_sent.outcome == "delivered"


def _aware(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)
