"""Broadcasts count the people who had blocked the bot (Telegram's 403) apart from other failures.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dalil_broadcasts") as batch:
        batch.add_column(sa.Column("blocked", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("dalil_broadcasts") as batch:
        batch.drop_column("blocked")
