"""Channels as operators see them: which are configured (credentials come from settings and are never
shown or stored here), and the operator's switches per channel — enabled, and per-customer daily quotas
that feed the governor (`history.policy`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.channels import registry
from siyu.core.errors import NotFound, SiyuError, ValidationFailed

from .history import channel_settings, policy
from .policy import channel_family
from .tables import ChannelSetting


def _configured(name: str) -> tuple[bool, str | None]:
    try:
        registry.get(name)
    except SiyuError as exc:
        return False, exc.message
    return True, None


def list_channels(session: Session) -> list[dict[str, Any]]:
    """Every registered channel: configured or why not, the operator's settings, the effective quotas."""
    stored = channel_settings(session)
    quotas = policy(stored).daily_quotas
    out = []
    for name in registry.names():
        configured, problem = _configured(name)
        row = stored.get(name)
        family = channel_family(name)
        out.append({
            "name": name, "family": family, "configured": configured, "problem": problem,
            "enabled": True if row is None else row.enabled,
            "per_customer_daily": None if row is None else row.per_customer_daily,
            "mass_per_customer_daily": None if row is None else row.mass_per_customer_daily,
            "effective_daily_quota": quotas.get(family), "effective_mass_quota": quotas.get(f"{family}_mass"),
            "updated_at": None if row is None else row.updated_at,
            "updated_by": None if row is None else row.updated_by,
        })  # fmt: skip
    return out


def update(
    session: Session, name: str, changes: dict[str, Any], *, actor: str, now: datetime
) -> dict[str, Any]:
    """Set `enabled`, `per_customer_daily`, `mass_per_customer_daily` (null = the default) for a channel."""
    if name not in registry.names():
        raise NotFound(f"no channel called {name!r} (known: {', '.join(registry.names())})", field="name")
    for key in ("per_customer_daily", "mass_per_customer_daily"):
        value = changes.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000
        ):
            raise ValidationFailed(f"{key}: a whole number from 0 to 1000, or null", field=key)
    row = session.get(ChannelSetting, name)
    if row is None:
        row = ChannelSetting(name=name, enabled=True, updated_at=now, updated_by=actor[:100])
        session.add(row)
    for key in ("enabled", "per_customer_daily", "mass_per_customer_daily"):
        if key in changes:
            setattr(row, key, bool(changes[key]) if key == "enabled" else changes[key])
    row.updated_at, row.updated_by = now, actor[:100]
    session.flush()
    return next(c for c in list_channels(session) if c["name"] == name)
