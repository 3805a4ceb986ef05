"""Hotline handoffs and the forum topic of each user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dalil_handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("language", sa.String(8)),
        sa.Column("context_topic", sa.String(48)),
        sa.Column("thread_id", sa.BigInteger),
        sa.Column("staff_id", sa.BigInteger),
        sa.Column("staff_name", sa.String(64)),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("first_staff_reply_at", sa.DateTime),
        sa.Column("last_activity_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("closed_by", sa.String(16)),
    )
    op.create_index("ix_dalil_handoffs_user_id", "dalil_handoffs", ["user_id"])
    op.create_index("ix_dalil_handoffs_status", "dalil_handoffs", ["status"])
    op.create_table(
        "dalil_hotline_topics",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("thread_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dalil_hotline_topics")
    op.drop_table("dalil_handoffs")
