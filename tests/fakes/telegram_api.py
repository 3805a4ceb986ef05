"""The fake Telegram Bot API lives in bot/fake_telegram.py (the benchmark uses it too)."""

from bot.fake_telegram import BOT_ID, BOT_USERNAME, FakeTelegram, Fault, Sent

__all__ = ["BOT_ID", "BOT_USERNAME", "FakeTelegram", "Fault", "Sent"]
