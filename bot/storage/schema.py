"""Schema: the gateway's tables (SQLAlchemy Core), migrated by Alembic (bot/storage/migrations).

Users are keyed by a pseudonym (a keyed hash of the Telegram user id); the chat id is kept only
in `users` because replies must reach the person. Everything else refers to the pseudonym.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "dalil_users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("chat_id", sa.BigInteger, nullable=True),
    sa.Column("lang_chosen", sa.String(8)),
    sa.Column("lang_current", sa.String(8)),
    sa.Column("darija", sa.Boolean, nullable=False, default=False),
    sa.Column("telegram_code", sa.String(16)),
    sa.Column("lang_asked", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
)

# Every input from a user (text, command, button, media), stored before it is processed:
# the durable inbox. `update_id` makes a Telegram update count once even if delivered twice.
inbox = sa.Table(
    "dalil_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("update_id", sa.BigInteger, unique=True, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("data", sa.Text),
    sa.Column("status", sa.String(10), nullable=False, default="pending", index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("acked", sa.Boolean, nullable=False, default=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("done_at", sa.DateTime),
)

# Every message to send, stored before it is sent: the durable outbox.
outbox = sa.Table(
    "dalil_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("inbox_id", sa.Integer),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, default="pending", index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("message_id", sa.BigInteger),
    # What sent it, when not a reply: "alert" (a new event), "broadcast:<id>" (an admin's message)
    sa.Column("origin", sa.String(24)),
)

# Inline-keyboard buttons we issued: Telegram gives back only the token (≤ 64 bytes).
callbacks = sa.Table(
    "dalil_callbacks",
    metadata,
    sa.Column("token", sa.String(24), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Conversations handed to the hotline. One row per handoff; at most one open per user.
handoffs = sa.Table(
    "dalil_handoffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False, default="open", index=True),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False, default=False),
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

# One forum topic per user in the hotline group, reused by later handoffs.
hotline_topics = sa.Table(
    "dalil_hotline_topics",
    metadata,
    sa.Column("user_id", sa.String(40), primary_key=True),
    sa.Column("thread_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# The ids of the messages the bot sent, so "forget me" and retention can delete them in
# Telegram: ids only (no text, no chat id; the chat is the person's, from `dalil_users`, or the
# hotline group). Rows of the person's own chat are kept 48 hours (Telegram deletes nothing
# older there); rows of their hotline topic as long as the topic.
sent_messages = sa.Table(
    "dalil_sent",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("hotline", sa.Boolean, nullable=False, default=False),
    sa.Column("sent_at", sa.DateTime, nullable=False, index=True),
)

# Who processes a person's lane right now, when several gateways share the database: a lease
# that expires, so a crashed gateway's lanes are picked up by the others.
leases = sa.Table(
    "dalil_leases",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("until", sa.DateTime, nullable=False),
)

# Anonymous daily totals (bot/storage/figures.py): a day, what is counted, a key (a campaign tag
# of a deep link, a language...) and the count. No person, no text: kept beyond the retention of
# conversations, never deleted by /forget.
daily_figures = sa.Table(
    "dalil_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Opt-in event alerts: a person asked to hear about new events of a city (and a topic, "" for
# any). Deleted by /forget, by retention with the person, and when Telegram says they blocked us.
subscriptions = sa.Table(
    "dalil_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("city", sa.String(32), nullable=False),
    sa.Column("topic", sa.String(32), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("user_id", "city", "topic", name="uq_dalil_subscriptions"),
)

# Every event uid the alerts have seen in the feeds, and when: an event is announced once, to the
# subscriptions older than its first sighting. No person here.
events_seen = sa.Table(
    "dalil_events_seen",
    metadata,
    sa.Column("uid", sa.String(160), primary_key=True),
    sa.Column("first_seen_at", sa.DateTime, nullable=False),
    sa.Column("announced_at", sa.DateTime),
)

# Messages admins send to the subscribers of a city or topic: the texts per language, who
# (an admin's Telegram id or the CLI's local user), how many recipients. Deliveries are outbox rows
# whose `origin` is "broadcast:<id>".
broadcasts = sa.Table(
    "dalil_broadcasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("city", sa.String(32), nullable=False, default=""),
    sa.Column("topic", sa.String(32), nullable=False, default=""),
    sa.Column("texts", sa.Text, nullable=False),  # JSON {lang: text}
    sa.Column("status", sa.String(10), nullable=False, default="draft"),  # draft | sent | cancelled
    sa.Column("recipients", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    # How many of its messages Telegram refused because the person had blocked the bot (migration 0008)
    sa.Column("blocked", sa.Integer, nullable=False, default=0, server_default="0"),
)

# What admins did (import, publish, rollback, broadcast, role change): who, when, what, the result.
# Admins' ids only (staff, never the people Dalil helps); kept beyond the retention of conversations.
audit_log = sa.Table(
    "dalil_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("result", sa.String(16), nullable=False, default="ok"),
)
