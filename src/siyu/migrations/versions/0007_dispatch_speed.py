"""dispatch speed: claim indexes that hold only the rows a worker can claim; no customer foreign keys on
the outbox and journey runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:30:00.000000

- outbox: `ix_outbox_status_next (status, next_attempt_at)` gives way to partial indexes in the order the
  claims read: due rows (`next_attempt_at, id` where pending or deferred), expired leases (`lease_until,
  id` where sending) and WeCom tasks awaiting confirmation (`provider_id` where queued_for_confirmation).
  A claim reads the first rows of its index and stops at the LIMIT, where the old index had to collect
  and sort every due row of two statuses; rows that were sent leave the claim indexes for good, so the
  indexes stay as small as the backlog.
- journey_timers: `ix_journey_timers_status_due (status, due_at)` becomes `(due_at, id) where pending`,
  for the same reason.
- outbox and journey_runs lose their foreign keys to customers. Customers are never deleted (a merge
  keeps both rows and moves the loser's data by id), the rows are written by the runner for customers it
  has just read, and on PostgreSQL each insert's referential check also locked the customer row (a
  KEY SHARE lock written into the customers table for every message and run).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('pending', 'deferred')"
SENDING = "status = 'sending'"
CONFIRMING = "status = 'queued_for_confirmation'"
PENDING = "status = 'pending'"


def _where(sql: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(sql), "sqlite_where": sa.text(sql)}


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_customer_id_customers", type_="foreignkey")
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.create_index("ix_outbox_due", ["next_attempt_at", "id"], unique=False, **_where(CLAIMABLE))
        batch_op.create_index("ix_outbox_lease", ["lease_until", "id"], unique=False, **_where(SENDING))
        batch_op.create_index("ix_outbox_confirming", ["provider_id"], unique=False, **_where(CONFIRMING))
    with op.batch_alter_table("journey_runs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_journey_runs_customer_id_customers", type_="foreignkey")
    with op.batch_alter_table("journey_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_timers_status_due")
        batch_op.create_index("ix_journey_timers_due", ["due_at", "id"], unique=False, **_where(PENDING))


def downgrade() -> None:
    with op.batch_alter_table("journey_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_timers_due")
        batch_op.create_index("ix_journey_timers_status_due", ["status", "due_at"], unique=False)
    with op.batch_alter_table("journey_runs", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_journey_runs_customer_id_customers", "customers", ["customer_id"], ["id"]
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_confirming")
        batch_op.drop_index("ix_outbox_lease")
        batch_op.drop_index("ix_outbox_due")
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_foreign_key("fk_outbox_customer_id_customers", "customers", ["customer_id"], ["id"])
