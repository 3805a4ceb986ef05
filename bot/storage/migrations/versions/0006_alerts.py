"""Opt-in event alerts and admins' broadcasts: subscriptions, events seen, broadcasts, outbox origin.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dalil_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), nullable=False, index=True),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "city", "topic", name="uq_dalil_subscriptions"),
    )
    op.create_table(
        "dalil_events_seen",
        sa.Column("uid", sa.String(160), primary_key=True),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("announced_at", sa.DateTime),
    )
    op.create_table(
        "dalil_broadcasts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("texts", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
    )
    with op.batch_alter_table("dalil_outbox") as batch:
        batch.add_column(sa.Column("origin", sa.String(24)))


def downgrade() -> None:
    with op.batch_alter_table("dalil_outbox") as batch:
        batch.drop_column("origin")
    op.drop_table("dalil_broadcasts")
    op.drop_table("dalil_events_seen")
    op.drop_table("dalil_subscriptions")
