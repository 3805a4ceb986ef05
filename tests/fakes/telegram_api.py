"""The fake Telegram Bot API lives in devtools/fake_telegram.py (the benchmark uses it too)."""

from devtools.fake_telegram import BOT_ID, BOT_USERNAME, FakeTelegram, Fault, Sent

__all__ = ["BOT_ID", "BOT_USERNAME", "FakeTelegram", "Fault", "Sent"]
