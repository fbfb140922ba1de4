"""predictions: each customer's latest predictions and the refresh runs that produced them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.core.database

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = siyu.core.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prediction_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTC_TIME, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_runs")),
    )
    op.create_table(
        "predictions",
        sa.Column("customer_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases_90d", sa.Float(), nullable=True),
        sa.Column("clv_minor", sa.BigInteger(), nullable=True),
        sa.Column("next_purchase_at", UTC_TIME, nullable=True),
        sa.Column("next_purchase_low", UTC_TIME, nullable=True),
        sa.Column("next_purchase_high", UTC_TIME, nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("best_send_hour", sa.SmallInteger(), nullable=True),
        sa.Column("replenish_on", sa.Date(), nullable=True),
        sa.Column("replenish_remind_on", sa.Date(), nullable=True),
        sa.Column("replenish_product", sa.String(length=128), nullable=True),
        sa.Column("computed_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_predictions")),
    )


def downgrade() -> None:
    op.drop_table("predictions")
    op.drop_table("prediction_runs")
