"""analytics: daily metrics, acquisition spend, health-alert rules (defaults seeded) and alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.core.database

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Same values as siyu.analytics.rules.DEFAULTS (kept literal: a migration must not change with the code).
DEFAULT_RULES = [
    ("interaction_drop", 0.30, {}),
    ("complaint_rate_rising", 0.0, {"weeks": 2}),
    ("participation_below_baseline", 0.20, {"baseline_weeks": 4}),
    ("ltv_cac_low", 3.0, {"window_days": 90}),
]


def upgrade() -> None:
    op.create_table(
        "daily_metrics",
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("computed_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("metric", "day", "dimension", name=op.f("pk_daily_metrics")),
    )
    op.create_table(
        "acquisition_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisition_spend")),
    )
    with op.batch_alter_table("acquisition_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acquisition_spend_channel"), ["channel"], unique=False)

    rules = op.create_table(
        "alert_rules",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_alert_rules")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("current", sa.Float(), nullable=True),
        sa.Column("previous", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("message_zh", sa.String(length=500), nullable=False),
        sa.Column("raised_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_key"], ["alert_rules.key"], name=op.f("fk_alerts_rule_key_alert_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("rule_key", "period", name=op.f("uq_alerts_rule_key_period")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_raised_at"), ["raised_at"], unique=False)

    now = datetime.now(UTC)
    op.bulk_insert(
        rules,
        [
            {
                "key": key,
                "threshold": threshold,
                "params": params,
                "enabled": True,
                "updated_at": now,
                "updated_by": "migration",
            }
            for key, threshold, params in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_raised_at"))
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    with op.batch_alter_table("acquisition_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acquisition_spend_channel"))
    op.drop_table("acquisition_spend")
    op.drop_table("daily_metrics")
