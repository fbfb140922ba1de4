"""journeys and messaging: journeys, versions, runs, timers, bulk entries, stats, advisor tasks, cursors;
outbox, message log, templates, tracked links, channel settings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:39:01.564961
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.core.database

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_settings",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("per_customer_daily", sa.Integer(), nullable=True),
        sa.Column("mass_per_customer_daily", sa.Integer(), nullable=True),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_settings")),
    )
    op.create_table(
        "journey_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journey_cursors")),
    )
    op.create_table(
        "journey_stats",
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "journey_id", "version", "node_id", "arm", "metric", name=op.f("pk_journey_stats")
        ),
    )
    op.create_table(
        "journey_timers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("due_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fired_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_timers")),
        sa.UniqueConstraint("key", name=op.f("uq_journey_timers_key")),
    )
    with op.batch_alter_table("journey_timers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_timers_run_id"), ["run_id"], unique=False)
        batch_op.create_index("ix_journey_timers_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("playbook", sa.String(length=64), nullable=True),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("activated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
    )
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journeys_status"), ["status"], unique=False)

    op.create_table(
        "message_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("mass", sa.Boolean(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=True),
        sa.Column("at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_log")),
        sa.UniqueConstraint("key", name=op.f("uq_message_log_key")),
    )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.create_index("ix_message_log_customer_at", ["customer_id", "at"], unique=False)

    op.create_table(
        "message_templates",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("provider_template", sa.String(length=100), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
    )
    op.create_table(
        "tracked_links",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tracked_links")),
    )
    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.create_index("ix_tracked_links_message_key", ["message_key"], unique=False)

    op.create_table(
        "advisor_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("journey_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("due_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_advisor_tasks_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_advisor_tasks_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisor_tasks")),
        sa.UniqueConstraint("key", name=op.f("uq_advisor_tasks_key")),
    )
    with op.batch_alter_table("advisor_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_advisor_tasks_customer", ["customer_id"], unique=False)
        batch_op.create_index("ix_advisor_tasks_staff_status", ["staff_id", "status"], unique=False)

    op.create_table(
        "journey_bulk_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column(
            "customer_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("start_key", sa.String(length=300), nullable=False),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("after_customer", sa.BigInteger(), nullable=False),
        sa.Column("until_customer", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("done_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_journey_bulk_entries_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_bulk_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_journey_bulk_entries_key")),
    )
    with op.batch_alter_table("journey_bulk_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journey_bulk_entries_status", ["status", "id"], unique=False)

    op.create_table(
        "journey_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_key", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("arm", sa.String(length=100), nullable=True),
        sa.Column("entered_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_timer_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exited_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sa.String(length=100), nullable=True),
        sa.Column("converted_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_journey_runs_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_journey_runs_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_runs")),
        sa.UniqueConstraint(
            "journey_id",
            "customer_id",
            "entry_key",
            name=op.f("uq_journey_runs_journey_id_customer_id_entry_key"),
        ),
    )
    with op.batch_alter_table("journey_runs", schema=None) as batch_op:
        batch_op.create_index("ix_journey_runs_customer_status", ["customer_id", "status"], unique=False)
        batch_op.create_index("ix_journey_runs_journey_status", ["journey_id", "status"], unique=False)

    op.create_table(
        "journey_versions",
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_journey_versions_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("journey_id", "version", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("arm", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("mass", sa.Boolean(), nullable=False),
        sa.Column("coupon_pool", sa.String(length=100), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("reason_zh", sa.String(length=500), nullable=True),
        sa.Column("reason_en", sa.String(length=500), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("track_code", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("sent_at", siyu.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", siyu.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
        sa.UniqueConstraint("track_code", name=op.f("uq_outbox_track_code")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_customer", ["customer_id"], unique=False)
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.drop_index("ix_outbox_customer")

    op.drop_table("outbox")
    op.drop_table("journey_versions")
    with op.batch_alter_table("journey_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_runs_journey_status")
        batch_op.drop_index("ix_journey_runs_customer_status")

    op.drop_table("journey_runs")
    with op.batch_alter_table("journey_bulk_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_bulk_entries_status")

    op.drop_table("journey_bulk_entries")
    with op.batch_alter_table("advisor_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_advisor_tasks_staff_status")
        batch_op.drop_index("ix_advisor_tasks_customer")

    op.drop_table("advisor_tasks")
    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.drop_index("ix_tracked_links_message_key")

    op.drop_table("tracked_links")
    op.drop_table("message_templates")
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_index("ix_message_log_customer_at")

    op.drop_table("message_log")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journeys_status"))

    op.drop_table("journeys")
    with op.batch_alter_table("journey_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_timers_status_due")
        batch_op.drop_index(batch_op.f("ix_journey_timers_run_id"))

    op.drop_table("journey_timers")
    op.drop_table("journey_stats")
    op.drop_table("journey_cursors")
    op.drop_table("channel_settings")
