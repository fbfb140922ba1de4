"""segment speed: indexes that let segment conditions read index ranges instead of whole tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:00:00.000000

- traits (name, value, customer_id), SQLite only: a trait condition reads one name's entries of a small
  covering index instead of every trait row (ciphertexts included). Not on PostgreSQL, where a B-tree
  entry is limited to about 2.7 kB and a long trait value would make its write fail (PostgreSQL scans
  the table in parallel instead).
- order_lines (category, order_pk, customer_id): "bought a product of category X" reads that category's
  lines from the index alone.
- consents (channel, purpose, status, customer_id): a consent condition reads one range of a covering
  index.
- segment_members loses its foreign keys to customers and segments: the rows are derived (customers and
  segments are never deleted), and a first build writes up to a million of them; on PostgreSQL the
  per-row referential checks took more than half of such an insert.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_traits_name_value", "traits", ["name", "value", "customer_id"], unique=False)
    op.create_index(
        "ix_order_lines_category", "order_lines", ["category", "order_pk", "customer_id"], unique=False
    )
    op.create_index(
        "ix_consents_purpose_status",
        "consents",
        ["channel", "purpose", "status", "customer_id"],
        unique=False,
    )

    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.drop_constraint("fk_segment_members_customer_id_customers", type_="foreignkey")
        batch_op.drop_constraint("fk_segment_members_segment_id_segments", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_segment_members_segment_id_segments", "segments", ["segment_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_segment_members_customer_id_customers", "customers", ["customer_id"], ["id"]
        )
    op.drop_index("ix_consents_purpose_status", table_name="consents")
    op.drop_index("ix_order_lines_category", table_name="order_lines")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_traits_name_value", table_name="traits")
