"""Test support: a small brand built through real ingestion (events, traits, orders) plus direct rows for
what other engines write (tags, RFM, lifecycle, owners, consent), and segment evaluation helpers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.consent.tables import Consent
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import Identity
from siyu.events.ingest import IngestReport, ingest
from siyu.lifecycle.tables import LifecycleState
from siyu.rfm.tables import RfmScore
from siyu.segments.compiler import members, scope_for
from siyu.segments.schemas import parse_definition
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags import service as tags

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # 20:00 in Asia/Shanghai: local day 2026-11-01


def ensure_source(session: Session, name: str = "seg-tests") -> int:
    from siyu.auth.service import create_source
    from siyu.auth.tables import Source

    row = session.query(Source).filter_by(name=name).one_or_none()
    if row is None:
        row, _key = create_source(session, name)
        session.flush()
    return row.id


class World:
    def __init__(self, session: Session, now: datetime = NOW) -> None:
        self.session = session
        self.now = now
        self.source = ensure_source(session)
        self.sent = 0
        self.staff: dict[str, int] = {}

    # --- data through ingestion ----------------------------------------------------------------------
    def send(self, *messages: dict[str, Any]) -> IngestReport:
        raws = []
        for m in messages:
            self.sent += 1
            raws.append({"messageId": f"w{self.sent}", **m})
        report = ingest(
            self.session, get_settings(), get_vault(), source_id=self.source, raws=raws, received_at=self.now
        )
        assert not report.errors, report.errors
        self.session.flush()
        return report

    def at(self, days_ago: float = 0) -> str:
        return (self.now - timedelta(days=days_ago)).isoformat()

    def identify(self, user: str, days_ago: float = 0, **traits: Any) -> int:
        self.send({"type": "identify", "userId": user, "traits": traits, "timestamp": self.at(days_ago)})
        return self.user(user)

    def track(self, user: str, event: str, days_ago: float = 0, **props: Any) -> int:
        self.send(
            {
                "type": "track",
                "userId": user,
                "event": event,
                "properties": props,
                "timestamp": self.at(days_ago),
            }
        )
        return self.user(user)

    def page(self, user: str, days_ago: float = 0) -> int:
        self.send({"type": "page", "userId": user, "name": "Home", "timestamp": self.at(days_ago)})
        return self.user(user)

    def order(self, user: str, order_id: str, total: float, days_ago: float = 0, **product: Any) -> int:
        products = [{"price": total, "quantity": 1, **product}] if product else []
        props = {"order_id": order_id, "total": total, "currency": "CNY", "products": products}
        return self.track(user, "Order Completed", days_ago, **props)

    def refund(self, user: str, order_id: str, days_ago: float = 0) -> int:
        return self.track(user, "Order Refunded", days_ago, order_id=order_id)

    def user(self, user: str) -> int:
        cid = self.session.scalar(
            select(Identity.customer_id).where(Identity.type == "user_id", Identity.lookup == user)
        )
        assert cid is not None, user
        return int(cid)

    # --- what other engines write -------------------------------------------------------------------
    def tag(self, customer_ids: Iterable[int], name: str, group: str = "测试") -> int:
        g = tags.ensure_group(self.session, group, category="custom", kind="static", exclusive=False)
        t = tags.ensure_tag(self.session, g.id, name)
        tags.apply(self.session, t.id, add=list(customer_ids), actor="test", reason=None, at=self.now)
        return t.id

    def rfm(self, cid: int, tier: str, r: int = 3, f: int = 3, m: int = 3) -> None:
        self.session.merge(
            RfmScore(
                customer_id=cid,
                recency_days=1,
                frequency=f,
                monetary_minor=100,
                r=r,
                f=f,
                m=m,
                tier=tier,
                computed_at=self.now,
            )
        )
        self.session.flush()

    def lifecycle(self, cid: int, stage: str) -> None:
        self.session.merge(LifecycleState(customer_id=cid, stage=stage, since=self.now, updated_at=self.now))
        self.session.flush()

    def owner(self, cid: int, userid: str, department: str | None = None) -> None:
        if userid not in self.staff:
            row = Staff(userid=userid, name=userid, department=department, active=True, created_at=self.now)
            self.session.add(row)
            self.session.flush()
            self.staff[userid] = row.id
        self.session.merge(CustomerOwner(customer_id=cid, staff_id=self.staff[userid], assigned_at=self.now))
        self.session.flush()

    def consent(self, cid: int, channel: str, status: str, purpose: str = "marketing") -> None:
        self.session.merge(
            Consent(
                customer_id=cid,
                channel=channel,
                purpose=purpose,
                status=status,
                updated_at=self.now,
                origin="test",
            )
        )
        self.session.flush()

    # --- evaluation ---------------------------------------------------------------------------------
    def members(self, root: dict[str, Any], ids: Iterable[int] | None = None) -> set[int]:
        node = parse_definition({"version": 1, "root": root}).root
        scope = scope_for(self.session, self.now, None if ids is None else list(ids))
        return {int(c) for c in self.session.scalars(members(scope, node))}

    def check(self, root: dict[str, Any], every: Iterable[int]) -> set[int]:
        """Members by the full query, asserting the restricted (incremental) query agrees customer by
        customer and for everyone at once."""
        full = self.members(root)
        everyone = sorted(every)
        assert self.members(root, everyone) == full
        for cid in everyone:
            assert self.members(root, [cid]) == ({cid} & full), (cid, root)
        return full
