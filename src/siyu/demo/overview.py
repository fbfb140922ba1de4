"""What the operated demo holds, read back from the database: staff and owners, consents, tags, RFM tiers,
lifecycle stages, predictions, segments with their members, journeys, and the dashboard's numbers.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics.tables import Alert, DailyMetric
from siyu.consent.tables import Consent
from siyu.demo.operations import PREDICTIONS, predictions_available
from siyu.journeys.tables import Journey
from siyu.lifecycle import service as lifecycle
from siyu.rfm import service as rfm
from siyu.segments.tables import Segment
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags.schemas import KIND_LABELS
from siyu.tags.tables import CustomerTag, Tag, TagGroup

Counts = list[tuple[str, int]]  # (label, count), in a stable order


@dataclass(frozen=True)
class Overview:
    staff: Counts  # per department
    owned: int  # customers with an owner
    consents: Counts  # "wecom granted", …
    tag_groups: int
    tags: Counts  # per kind of group (Chinese label)
    tagged: int  # customer-tag rows
    rfm: Counts  # per tier (Chinese label)
    lifecycle: Counts  # per stage (Chinese label)
    predictions: Counts | None  # predictive tags of the latest refresh (None: no refresh)
    segments: Counts  # name → members
    journeys: list[tuple[str, str]]  # (name, status)
    metric_rows: int
    metric_days: int
    alerts: list[str]  # open alerts: "rule (period)"


def _grouped(session: Session, *columns: Any) -> list[tuple[Any, ...]]:
    query = select(*columns, func.count()).group_by(*columns).order_by(*columns)
    return [tuple(row) for row in session.execute(query)]


def _predictions(session: Session) -> Counts | None:
    """Members of each predictive tag after the latest refresh; None without a refresh (or capability)."""
    if not predictions_available():
        return None
    service: Any = importlib.import_module(PREDICTIONS)
    run = service.latest_run(session)
    if run is None:
        return None
    tags = (run.metrics or {}).get("tags", {})
    return [(str(name), int(t.get("members", 0))) for name, t in sorted(tags.items())]


def overview(session: Session) -> Overview:
    live_groups = select(TagGroup.id).where(TagGroup.archived_at.is_(None))
    live_tags = select(Tag).where(Tag.archived_at.is_(None), Tag.group_id.in_(live_groups))
    kinds = {int(i): str(k) for i, k in session.execute(select(TagGroup.id, TagGroup.kind))}
    per_kind = Counter(kinds[t.group_id] for t in session.scalars(live_tags))
    segments = session.scalars(select(Segment).where(Segment.archived_at.is_(None)).order_by(Segment.id))
    journeys = session.scalars(select(Journey).where(Journey.status != "archived").order_by(Journey.id))
    open_alerts = session.execute(
        select(Alert.rule_key, Alert.period).where(Alert.acknowledged_at.is_(None)).order_by(Alert.id)
    )
    return Overview(
        staff=[(str(d or "-"), int(n)) for d, n in _grouped(session, Staff.department)],
        owned=int(session.scalar(select(func.count()).select_from(CustomerOwner)) or 0),
        consents=[(f"{c} {s}", int(n)) for c, s, n in _grouped(session, Consent.channel, Consent.status)],
        tag_groups=int(session.scalar(select(func.count()).select_from(live_groups.subquery())) or 0),
        tags=[(label, per_kind[kind]) for kind, label in KIND_LABELS.items() if per_kind[kind]],
        tagged=int(session.scalar(select(func.count()).select_from(CustomerTag)) or 0),
        rfm=[(t["label"], int(t["customers"])) for t in rfm.summary(session)["tiers"]],
        lifecycle=[(s["label"], int(s["customers"])) for s in lifecycle.summary(session)["stages"]],
        predictions=_predictions(session),
        segments=[(s.name, s.member_count) for s in segments],
        journeys=[(j.name, j.status) for j in journeys],
        metric_rows=int(session.scalar(select(func.count()).select_from(DailyMetric)) or 0),
        metric_days=int(session.scalar(select(func.count(func.distinct(DailyMetric.day)))) or 0),
        alerts=[f"{rule} ({period})" for rule, period in open_alerts],
    )


def joined(counts: Counts) -> str:
    """`重要价值 415 · 重要发展 324 · …`"""
    return " · ".join(f"{label} {n:,}" for label, n in counts) or "none"
