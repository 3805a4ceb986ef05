"""Ids of the messages the bot sent (no text), for "forget me" and retention to delete them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dalil_sent",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("hotline", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_dalil_sent_user_id", "dalil_sent", ["user_id"])
    op.create_index("ix_dalil_sent_sent_at", "dalil_sent", ["sent_at"])


def downgrade() -> None:
    op.drop_table("dalil_sent")
