"""Telegram side of the gateway: python-telegram-bot handlers in, Bot API sends out.

Handlers do almost nothing: they identify the person (pseudonym), store the input in the durable
inbox through the Runner, and return. `TelegramTransport` sends the rendered bodies as plain text
(never Markdown/HTML, so nothing a user or an admin typed is ever interpreted as markup) with
inline keyboards, and turns Telegram errors into retry/give-up decisions.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.identity import pseudonym
from bot.runner import Runner, SendFailed, SendRetry

log = logging.getLogger(__name__)

_MEDIA_TYPES = (
    "voice", "audio", "video", "video_note", "photo", "sticker", "animation",
    "document", "location", "venue", "contact", "poll", "dice", "game", "story",
)


class TelegramTransport:
    """Sends bodies through PTB's Bot (rate-limited by the Application's AIORateLimiter)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(self, chat_id: int, body: dict[str, Any]) -> int | None:
        markup = None
        rows = body.get("buttons") or []
        if rows:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b["text"][:64], callback_data=b["token"]) for b in row] for row in rows]
            )
        text = str(body.get("text") or "…")
        try:
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                message_thread_id=body.get("thread_id"),
            )
        except RetryAfter as exc:
            raise SendRetry(_seconds(exc.retry_after), "flood control") from exc
        except Forbidden as exc:
            raise SendFailed(f"forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise SendFailed(f"bad request: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:  # NetworkError also covers 5xx
            raise SendRetry(0, type(exc).__name__) from exc
        return message.message_id


def _seconds(value: Any) -> float:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


class Handlers:
    """The update handlers; all they need is the Runner and the pseudonym key."""

    def __init__(self, runner: Runner, secret: str) -> None:
        self.runner = runner
        self.secret = secret

    def user_key(self, telegram_user_id: int) -> str:
        return pseudonym(self.secret, "tg", telegram_user_id)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Private messages, edited messages and button presses from people (not bots)."""
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or user.is_bot:
            return
        if chat.type != ChatType.PRIVATE:
            await self._not_private(update)
            return
        key = self.user_key(user.id)
        code = user.language_code
        query = update.callback_query
        if query is not None:
            await _answer_query(query)
            await self.runner.submit(
                key, chat.id, code, "callback", data={"token": str(query.data or "")[:64]}, update_id=update.update_id
            )
            return
        message = update.effective_message
        if message is None:
            return
        text = message.text
        if text is not None:
            command = _command(message)
            if command is not None:
                await self.runner.submit(key, chat.id, code, "command", data={"name": command}, update_id=update.update_id)
            else:
                data = {"edited": True} if update.edited_message is not None else None
                await self.runner.submit(key, chat.id, code, "text", text=text, data=data, update_id=update.update_id)
            return
        media = next((m for m in _MEDIA_TYPES if getattr(message, m, None)), "other")
        caption = message.caption
        if caption and media in ("photo", "document", "video"):
            # A photo of a document with a question underneath: answer the question.
            await self.runner.submit(key, chat.id, code, "text", text=caption, data={"media": media}, update_id=update.update_id)
            return
        await self.runner.submit(key, chat.id, code, "media", data={"type": media}, update_id=update.update_id)

    async def _not_private(self, update: Update) -> None:
        # Groups and channels: the bot only speaks in private, to protect people's privacy.
        # It answers a command addressed to it once; it never reads other group messages.
        message = update.effective_message
        if message is None or update.edited_message is not None or message.text is None:
            return
        if _command(message) is None:
            return
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        key = pseudonym(self.secret, "group", chat.id)
        await self.runner.submit(key, chat.id, None, "command", data={"name": "group"}, update_id=update.update_id)


def _command(message: Any) -> str | None:
    """The command name of a message such as `/start` or `/help@DalilBot`, else None."""
    text = (message.text or "").strip()
    if not text.startswith("/"):
        return None
    head = text.split()[0][1:]
    name = head.split("@", 1)[0].lower()
    return name if name.isascii() and name.replace("_", "").isalnum() else "unknown"


async def _answer_query(query: Any) -> None:
    try:
        await query.answer()
    except (BadRequest, NetworkError) as exc:  # old or already answered: harmless
        log.debug("answerCallbackQuery failed: %s", exc)


def add_handlers(application: Application, handlers: Handlers) -> None:
    application.add_handler(TypeHandler(Update, handlers.on_update, block=False))

