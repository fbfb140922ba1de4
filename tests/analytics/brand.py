"""A small fixture brand (9 customers, June–November 2026, brand zone Asia/Shanghai) ingested through the
real pipeline, with every number the metric tests expect worked out by hand in the comments there.

Customers (acquisition source, first seen local day, what they do):
  u1 web    Oct 1   live_code LC1, advisor a1 (East), segment vip; orders 100.00 (Oct 1), 50.00 (Oct 15);
                    enters journey j1 arm A Nov 9; message m1 (sms) sent/delivered/opened/clicked Nov 10;
                    NPS 10 Nov 15
  u2 web    Oct 2   first event Oct 2 00:30 local = Oct 1 16:30 UTC; advisor a1; order 200.00 Oct 2,
                    fully refunded Oct 5; NPS "abc" (invalid) Oct 6
  u3 wecom  Oct 3   live_code LC1, advisor a2 (West), segment vip; orders 80.00 (Oct 3), 120.00 (Nov 2,
                    20.00 refunded Nov 3); group g1 messages Nov 3, Nov 4; j1 arm B Nov 9; m2 (wecom) sent
                    Nov 10, no receipt, replied Nov 10; NPS 9 Nov 15
  u4 wecom  Oct 10  advisor a2; complaint Oct 12; NPS 3 Oct 13; j2 Oct 11; m6 (sms) sent Nov 10, never
                    delivered
  u5 wecom  Nov 1   order 300.00 Nov 1, cancelled the same day
  u6 web    Nov 5   live_code LC2; j1 arm A Nov 5 08:00; orders 60.00 (Nov 5 09:00), 40.00 (Nov 6),
                    100.00 (Nov 20); group g1 Nov 6, g2 Nov 7; NPS 7 Nov 21
  u7 web    Oct 20  j1 arm B Nov 9; m3 (sms) delivered Nov 10, clicked Nov 11; NPS "8" Nov 12
  u8 web    Jun 1   silent until m4 (sms) delivered Nov 10, opened Nov 12; NPS 11 (invalid) Nov 13
  u9 web    Jul 1   silent until m5 (sms) delivered Nov 10; unsubscribed (sms) Nov 11
Message events and journey entries are system events, as siyu's messaging and journey runner record them;
u6 also has `Journey Converted` for j1 (Nov 5 09:00) and u1 one for another journey, j3 (Nov 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import Identity
from siyu.events import system
from siyu.events.ingest import ingest
from siyu.segments.tables import Segment, SegmentMember
from siyu.staff.tables import CustomerOwner, Staff

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(local: str) -> str:
    """'2026-10-01 10:00' in the brand zone (+08:00) as an ISO timestamp."""
    return local.replace(" ", "T") + ":00+08:00"


def track(user: str, when: str, event: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "timestamp": at(when), "event": event, "properties": props}


def order(user: str, when: str, order_id: str, total: str) -> dict[str, Any]:
    return track(user, when, "Order Completed", order_id=order_id, total=total, currency="CNY")


def identify(user: str, when: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "timestamp": at(when), "traits": traits}


def page(user: str, when: str) -> dict[str, Any]:
    return {"type": "page", "userId": user, "timestamp": at(when), "name": "home"}


def group_msg(user: str, when: str, group: str) -> dict[str, Any]:
    msg = track(user, when, "Group Message Sent")
    msg["context"] = {"groupId": group}
    return msg


def message(user: str, when: str, event: str, mid: str, channel: str) -> tuple[str, str, str, dict[str, Any]]:
    return user, when, event, {"message_id": mid, "channel": channel, "journey_id": "j1"}


WEB = [
    page("u8", "2026-06-01 10:00"),
    page("u9", "2026-07-01 10:00"),
    identify("u1", "2026-10-01 10:00", live_code="LC1"),
    order("u1", "2026-10-01 10:05", "o1", "100.00"),
    track("u2", "2026-10-02 00:30", "Product Viewed", product_id="p1"),
    order("u2", "2026-10-02 00:40", "o3", "200.00"),
    track("u2", "2026-10-05 12:00", "Order Refunded", order_id="o3"),
    track("u2", "2026-10-06 12:00", "Survey Answered", nps_score="abc"),
    order("u1", "2026-10-15 09:00", "o2", "50.00"),
    track("u7", "2026-10-20 09:00", "Product Viewed", product_id="p2"),
    identify("u6", "2026-11-05 08:50", live_code="LC2"),
    order("u6", "2026-11-05 09:00", "o7", "60.00"),
    group_msg("u6", "2026-11-06 08:00", "g1"),
    order("u6", "2026-11-06 09:00", "o8", "40.00"),
    group_msg("u6", "2026-11-07 08:00", "g2"),
    track("u7", "2026-11-12 09:00", "Survey Answered", nps_score="8"),
    track("u8", "2026-11-13 09:00", "Survey Answered", nps_score=11),
    track("u1", "2026-11-15 09:00", "Survey Answered", nps_score=10),
    order("u6", "2026-11-20 09:00", "o9", "100.00"),
    track("u6", "2026-11-21 09:00", "Survey Answered", nps_score=7),
]
WECOM = [
    identify("u3", "2026-10-03 09:00", live_code="LC1"),
    order("u3", "2026-10-03 09:10", "o4", "80.00"),
    track("u4", "2026-10-10 11:00", "Product Viewed", product_id="p1"),
    track("u4", "2026-10-12 11:00", "Complaint Submitted", topic="delivery"),
    track("u4", "2026-10-13 11:00", "Survey Answered", nps_score=3),
    order("u5", "2026-11-01 09:00", "o6", "300.00"),
    track("u5", "2026-11-01 10:00", "Order Cancelled", order_id="o6"),
    order("u3", "2026-11-02 10:00", "o5", "120.00"),
    track("u3", "2026-11-03 10:00", "Order Refunded", order_id="o5", total="20.00"),
    group_msg("u3", "2026-11-03 12:00", "g1"),
    group_msg("u3", "2026-11-04 12:00", "g1"),
    track("u3", "2026-11-15 09:00", "Survey Answered", nps_score=9),
]
MESSAGING: list[tuple[str, str, str, dict[str, Any]]] = [
    message("u1", "2026-11-10 10:00", "Message Sent", "m1", "sms"),
    message("u1", "2026-11-10 10:01", "Message Delivered", "m1", "sms"),
    message("u1", "2026-11-10 11:00", "Message Opened", "m1", "sms"),
    message("u1", "2026-11-10 11:05", "Message Clicked", "m1", "sms"),
    message("u3", "2026-11-10 10:00", "Message Sent", "m2", "wecom"),
    message("u3", "2026-11-10 12:00", "Message Replied", "m2", "wecom"),
    message("u7", "2026-11-10 10:00", "Message Sent", "m3", "sms"),
    message("u7", "2026-11-10 10:01", "Message Delivered", "m3", "sms"),
    message("u7", "2026-11-11 09:00", "Message Clicked", "m3", "sms"),
    message("u8", "2026-11-10 10:00", "Message Sent", "m4", "sms"),
    message("u8", "2026-11-10 10:01", "Message Delivered", "m4", "sms"),
    message("u8", "2026-11-12 20:00", "Message Opened", "m4", "sms"),
    message("u9", "2026-11-10 10:00", "Message Sent", "m5", "sms"),
    message("u9", "2026-11-10 10:01", "Message Delivered", "m5", "sms"),
    ("u9", "2026-11-11 09:00", "Unsubscribed", {"channel": "sms"}),
    message("u4", "2026-11-10 10:00", "Message Sent", "m6", "sms"),
    ("u6", "2026-11-05 09:00", "Journey Converted", {"journey_id": "j1", "arm": "A"}),
    ("u1", "2026-11-10 12:00", "Journey Converted", {"journey_id": "j3", "arm": ""}),
]
JOURNEYS = [  # (user, local time, journey, arm)
    ("u4", "2026-10-11 09:00", "j2", "A"),
    ("u6", "2026-11-05 08:00", "j1", "A"),
    ("u1", "2026-11-09 09:00", "j1", "A"),
    ("u3", "2026-11-09 09:00", "j1", "B"),
    ("u7", "2026-11-09 09:00", "j1", "B"),
]


@dataclass
class Brand:
    customers: dict[str, int]
    sources: dict[str, int]


def send(session: Session, source_id: int, messages: list[dict[str, Any]], prefix: str) -> None:
    raws = [{**m, "messageId": f"{prefix}-{i}"} for i, m in enumerate(messages)]
    report = ingest(session, get_settings(), get_vault(), source_id=source_id, raws=raws, received_at=T0)
    assert not report.errors, report.errors
    session.commit()


def customer_ids(session: Session) -> dict[str, int]:
    rows = session.execute(select(Identity.value, Identity.customer_id).where(Identity.type == "user_id"))
    return {str(v): int(c) for v, c in rows}


def system_events(
    session: Session, ids: dict[str, int], rows: list[tuple[str, str, str, dict[str, Any]]]
) -> None:
    events = [
        system.SystemEvent(ids[user], name, f"sys:{i}", datetime.fromisoformat(at(when)), props)
        for i, (user, when, name, props) in enumerate(rows)
    ]
    system.record(session, events, received_at=T0)
    session.commit()


def build(session: Session) -> Brand:
    sources = {name: create_source(session, name)[0].id for name in ("web", "wecom")}
    session.commit()
    # chronological per customer; the two acquisition sources never see the same customer
    send(session, sources["web"], WEB, "web")
    send(session, sources["wecom"], WECOM, "wecom")
    ids = customer_ids(session)
    entries = [(u, w, "Journey Entered", {"journey_id": j, "arm": arm}) for u, w, j, arm in JOURNEYS]
    system_events(session, ids, MESSAGING + entries)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    a1 = Staff(userid="a1", name="Alice", department="East", active=True, created_at=created)
    a2 = Staff(userid="a2", name="Bob", department="West", active=True, created_at=created)
    session.add_all([a1, a2])
    session.flush()
    for user, staff in (("u1", a1), ("u2", a1), ("u3", a2), ("u4", a2)):
        session.add(CustomerOwner(customer_id=ids[user], staff_id=staff.id, assigned_at=created))
    vip = Segment(
        name="vip", kind="static", version=1, created_at=created, updated_at=created, created_by="t"
    )
    session.add(vip)
    session.flush()
    for user in ("u1", "u3"):
        session.add(SegmentMember(segment_id=vip.id, customer_id=ids[user], entered_at=created))
    session.commit()
    return Brand(ids, sources)
