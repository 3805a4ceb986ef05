"""Initial tables: users, durable inbox and outbox, issued buttons.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dalil_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("chat_id", sa.BigInteger, nullable=True),
        sa.Column("lang_chosen", sa.String(8)),
        sa.Column("lang_current", sa.String(8)),
        sa.Column("darija", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("telegram_code", sa.String(16)),
        sa.Column("lang_asked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "dalil_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("update_id", sa.BigInteger, unique=True, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("data", sa.Text),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("acked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime),
    )
    op.create_index("ix_dalil_inbox_user_id", "dalil_inbox", ["user_id"])
    op.create_index("ix_dalil_inbox_status", "dalil_inbox", ["status"])
    op.create_table(
        "dalil_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("inbox_id", sa.Integer),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("message_id", sa.BigInteger),
    )
    op.create_index("ix_dalil_outbox_user_id", "dalil_outbox", ["user_id"])
    op.create_index("ix_dalil_outbox_status", "dalil_outbox", ["status"])
    op.create_table(
        "dalil_callbacks",
        sa.Column("token", sa.String(24), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_dalil_callbacks_user_id", "dalil_callbacks", ["user_id"])


def downgrade() -> None:
    for table in ("dalil_callbacks", "dalil_outbox", "dalil_inbox", "dalil_users"):
        op.drop_table(table)
