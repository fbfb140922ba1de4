"""identity epoch: a number that moves whenever an identity changes owner, so that the SQLite ingestion
writer can keep the identities it has seen in memory between its transactions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:30:00.000000

- identity_epoch: one row (id 1). On SQLite, triggers add one to `epoch` whenever an identity's
  `customer_id`, `type` or `lookup` is updated (a merge or its undo) or an identity is deleted; inserts
  leave it alone (a new identity cannot change the owner of a known one: `lookup, type` are unique).
  It starts at a random value, so that a different database file at the same path does not look like
  the one a writer knew (`siyu.customers.identity_cache`).
- PostgreSQL has the table too (one schema for both) but no triggers: its writers run side by side and
  do not keep identities between transactions.
- A later migration that rebuilds `identities` with `batch_alter_table` on SQLite drops the triggers with
  the old table: it must create them again (`create_triggers` below).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BUMP = "UPDATE identity_epoch SET epoch = epoch + 1 WHERE id = 1"


def create_triggers() -> None:
    op.execute(
        "CREATE TRIGGER identities_epoch_update AFTER UPDATE OF customer_id, type, lookup ON identities"
        f" BEGIN {BUMP}; END"
    )
    op.execute(f"CREATE TRIGGER identities_epoch_delete AFTER DELETE ON identities BEGIN {BUMP}; END")


def upgrade() -> None:
    op.create_table(
        "identity_epoch",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO identity_epoch (id, epoch) VALUES (1, :epoch)"), {"epoch": secrets.randbits(62)}
    )
    if op.get_bind().dialect.name == "sqlite":
        create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS identities_epoch_update")
        op.execute("DROP TRIGGER IF EXISTS identities_epoch_delete")
    op.drop_table("identity_epoch")
