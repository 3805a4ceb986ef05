"""Telegram side of the gateway: python-telegram-bot handlers in, Bot API sends out.

Handlers do almost nothing: they identify the person (pseudonym), store the input in the durable
inbox through the Runner, and return. `TelegramTransport` sends the rendered bodies as plain text
(never Markdown/HTML, so nothing a user or an admin typed is ever interpreted as markup) with
inline keyboards, and turns Telegram errors into retry/give-up decisions.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.core.bodies import Body
from bot.core.deeplinks import PAYLOAD
from bot.core.identity import pseudonym
from bot.core.roles import Roles
from bot.gateway.handoff import STAFF_ACTIONS, HandoffService, HotlineRefused, TopicGone
from bot.gateway.runner import Runner, SendFailed, SendRetry

log = logging.getLogger(__name__)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]  # the gateway builds it with defaults

_MEDIA_TYPES = (
    "voice",
    "audio",
    "video",
    "video_note",
    "photo",
    "sticker",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)


class TelegramTransport:
    """Sends bodies through PTB's Bot (rate-limited by the Application's AIORateLimiter)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.on_blocked: Callable[[int], Awaitable[None]] | None = None  # a 403: unsubscribe (gateway/alerts.py)

    async def typing(self, chat_id: int) -> None:
        """ "typing…" in the person's chat while a slow answer is coming (Telegram shows it ~5 s)."""
        try:
            await self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except TelegramError as exc:  # only a courtesy: the answer still comes
            log.debug("sendChatAction failed: %s", type(exc).__name__)

    async def send(self, chat_id: int, body: Body) -> int | None:
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
        rows = body.get("buttons") or []
        if rows:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b["text"][:64], callback_data=b["token"]) for b in row] for row in rows]
            )
        elif body.get("keyboard"):
            keys = [[KeyboardButton(label) for label in row] for row in body["keyboard"]]
            if body.get("location_key"):  # Telegram asks the person before it shares anything
                keys.insert(0, [KeyboardButton(body["location_key"], request_location=True)])
            markup = ReplyKeyboardMarkup(
                keys,
                resize_keyboard=True,
                is_persistent=True,
            )
        try:
            if "photo" in body:  # the /stats chart: a PNG kept as base64 in the outbox
                photo = await self.bot.send_photo(
                    chat_id=chat_id,
                    photo=base64.b64decode(body["photo"]),
                    filename="stats.png",
                    caption=body.get("text") or None,
                    message_thread_id=body.get("thread_id"),
                )
                return int(photo.message_id)
            if "copy" in body:
                copied = await self.bot.copy_message(
                    chat_id=chat_id,
                    from_chat_id=body["copy"]["from_chat_id"],
                    message_id=body["copy"]["message_id"],
                    message_thread_id=body.get("thread_id"),
                )
                return int(copied.message_id)
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=str(body.get("text") or "…"),
                parse_mode=ParseMode.HTML if body.get("html") else None,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                message_thread_id=body.get("thread_id"),
            )
        except RetryAfter as exc:
            raise SendRetry(_seconds(exc.retry_after), "flood control") from exc
        except Forbidden as exc:
            if self.on_blocked is not None:  # blocked by the person, or the account is gone
                await self.on_blocked(chat_id)
            raise SendFailed(f"forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise SendFailed(f"bad request: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:  # NetworkError also covers 5xx
            raise SendRetry(0, type(exc).__name__) from exc
        return int(message.message_id)

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> None:
        """Delete the bot's messages in a chat ("forget me"); Telegram skips those it cannot find."""
        await _hotline_call(self.bot.delete_messages(chat_id=chat_id, message_ids=message_ids))


_GONE = ("thread not found", "topic_id_invalid", "topic_deleted", "topic not found")


async def _hotline_call(call: Any) -> Any:
    """Telegram's refusals as the neutral exceptions of bot.gateway.handoff; network errors pass as they are."""
    try:
        return await call
    except BadRequest as exc:
        text = exc.message.lower()
        if any(marker in text for marker in _GONE):
            raise TopicGone(exc.message) from exc
        raise HotlineRefused(exc.message) from exc
    except Forbidden as exc:
        raise HotlineRefused(exc.message) from exc


class TelegramHotline:
    """Forum-topic operations in the hotline supergroup."""

    def __init__(self, bot: Any, chat_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id

    async def create_topic(self, name: str) -> int:
        topic = await self.bot.create_forum_topic(chat_id=self.chat_id, name=name[:128])
        return int(topic.message_thread_id)

    async def reopen_topic(self, thread_id: int) -> bool:
        try:
            await self.bot.reopen_forum_topic(chat_id=self.chat_id, message_thread_id=thread_id)
        except BadRequest as exc:
            if "not_modified" in exc.message.lower().replace(" ", "_"):
                return True  # it was open
            log.info("forum topic gone (%s); a new one is created", exc.message)
            return False
        return True

    async def close_topic(self, thread_id: int) -> None:
        try:
            await _hotline_call(self.bot.close_forum_topic(chat_id=self.chat_id, message_thread_id=thread_id))
        except HotlineRefused as exc:
            if "not_modified" not in str(exc).lower().replace(" ", "_"):
                raise  # else it was closed already

    async def delete_topic(self, thread_id: int) -> None:
        await _hotline_call(self.bot.delete_forum_topic(chat_id=self.chat_id, message_thread_id=thread_id))

    async def delete_messages(self, message_ids: list[int]) -> None:
        await _hotline_call(self.bot.delete_messages(chat_id=self.chat_id, message_ids=message_ids))

    async def post(self, thread_id: int, text: str, buttons: Any = None) -> int:
        """An HTML message in a topic, sent now (the card, to pin it); `buttons` as in a Body."""
        markup = None
        if buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b["text"][:64], callback_data=b["token"]) for b in row] for row in buttons]
            )
        message = await _hotline_call(
            self.bot.send_message(
                chat_id=self.chat_id,
                message_thread_id=thread_id,
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        return int(message.message_id)

    async def pin(self, message_id: int) -> None:
        await _hotline_call(
            self.bot.pin_chat_message(chat_id=self.chat_id, message_id=message_id, disable_notification=True)
        )

    async def rename_topic(self, thread_id: int, name: str) -> None:
        try:
            await _hotline_call(
                self.bot.edit_forum_topic(chat_id=self.chat_id, message_thread_id=thread_id, name=name[:128])
            )
        except HotlineRefused as exc:
            if "not_modified" not in str(exc).lower().replace(" ", "_"):
                raise
            log.debug("forum topic already had this name")


def _seconds(value: Any) -> float:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


class Handlers:
    """The update handlers: identify, check powers, store in the inbox, return."""

    def __init__(
        self,
        runner: Runner,
        secret: str,
        *,
        hotline_chat_id: int | None = None,
        handoff: HandoffService | None = None,
        admin_ids: frozenset[int] = frozenset(),
        roles: Roles | None = None,
    ) -> None:
        self.runner = runner
        self.secret = secret
        self.admin_ids = admin_ids
        self.roles = roles  # viewers and editors (ROLES_FILE + ADMIN_USER_IDS); None: admin_ids are editors
        self.hotline_chat_id = hotline_chat_id
        self.handoff = handoff

    def user_key(self, telegram_user_id: int) -> str:
        return pseudonym(self.secret, "tg", telegram_user_id)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Private messages, edited messages and button presses from people (not bots)."""
        user = update.effective_user
        chat = update.effective_chat
        query = update.callback_query
        bot_name = getattr(context.bot, "username", None)
        if user is None or user.is_bot:
            return
        if chat is None:  # e.g. a press on an inline-mode message: stop the spinner, nothing else
            if query is not None:
                await _answer_query(query)
            return
        if self.hotline_chat_id is not None and chat.id == self.hotline_chat_id:
            if chat.type in (ChatType.SUPERGROUP, ChatType.GROUP):  # a forged "private" hotline id gets nothing
                await self._hotline(update, bot_name)
            elif query is not None:
                await _answer_query(query)
            return
        if chat.type != ChatType.PRIVATE:
            if query is not None:
                await _answer_query(query)
            await self._not_private(update, bot_name)
            return
        key = self.user_key(user.id)
        code = user.language_code
        if query is not None:
            # Stored first, so a message sent right after the press is answered after it.
            await self.runner.submit(
                key, chat.id, code, "callback", data={"token": str(query.data or "")[:64]}, update_id=update.update_id
            )
            await _answer_query(query)
            return
        message = update.effective_message
        if message is None:
            return
        text = message.text
        if update.edited_message is not None and text is None and not message.caption:
            return  # a live location moving, a replaced photo: nothing new to answer
        base: dict[str, object] = {"message_id": message.message_id}
        if text is not None:
            command = _command(message, bot_name)
            if command == "":
                command = "unknown"  # /start@OtherBot typed to us in private: still answered
            if command is not None:
                data = {"name": command, **base}
                payload = _start_payload(text) if command == "start" else None
                if payload:
                    data["payload"] = payload  # a deep link: t.me/<bot>?start=<payload>
                # Checked on every update (the roles file is re-read when it changes), never kept as a profile.
                role = self.roles.role_of(user.id) if self.roles else ("editor" if user.id in self.admin_ids else None)
                if role is not None:
                    data.update(admin=True, role=role, actor=f"tg:{user.id}")  # staff: the id is for the audit
                    if command == "broadcast":  # its lines are the message to send (bot/gateway/broadcast.py)
                        data["args"] = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
                await self.runner.submit(key, chat.id, code, "command", data=data, update_id=update.update_id)
            else:
                data = {"edited": True, **base} if update.edited_message is not None else base
                await self.runner.submit(key, chat.id, code, "text", text=text, data=data, update_id=update.update_id)
            return
        media = next((m for m in _MEDIA_TYPES if getattr(message, m, None)), "other")
        caption = message.caption
        if caption and media in ("photo", "document", "video"):
            # A photo of a document with a question underneath: answer the question.
            await self.runner.submit(
                key, chat.id, code, "text", text=caption, data={"media": media, **base}, update_id=update.update_id
            )
            return
        data = {"type": media, **base}
        if media == "location" and message.location is not None:
            # Rounded to ~100 m, used for one answer, never logged; the inbox row goes with retention.
            data.update(latitude=round(message.location.latitude, 3), longitude=round(message.location.longitude, 3))
        await self.runner.submit(key, chat.id, code, "media", data=data, update_id=update.update_id)

    async def _not_private(self, update: Update, bot_name: str | None) -> None:
        # Groups and channels: the bot only speaks in private, to protect people's privacy.
        # It answers a command addressed to it once; it never reads other group messages.
        message = update.effective_message
        if message is None or update.edited_message is not None or message.text is None:
            return
        if not _command(message, bot_name):
            return
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        key = pseudonym(self.secret, "group", chat.id)
        await self.runner.submit(key, chat.id, None, "command", data={"name": "group"}, update_id=update.update_id)

    async def _hotline(self, update: Update, bot_name: str | None) -> None:
        """The staff group: replies in a user's topic, /take /bot /close, card buttons."""
        if self.handoff is None:
            return
        staff = update.effective_user
        assert staff is not None
        query = update.callback_query
        if query is not None:
            parts = str(query.data or "").split(":")
            if len(parts) != 3 or parts[0] != "h" or parts[1] not in STAFF_ACTIONS or not parts[2].isdigit():
                await _answer_query(query)
                return
            if not self.handoff.is_staff(staff.id):
                await _answer_query(query, self.handoff.library.text("staff_not_allowed", self.handoff.staff_lang))
                return
            await _answer_query(query)
            handoff = await self.handoff.store.handoff_get(int(parts[2]))
            if handoff is None:
                return
            await self.runner.submit(
                handoff.user_id,
                None,
                None,
                "staff_action",
                update_id=update.update_id,
                data={"action": parts[1], "staff_id": staff.id, "staff_name": staff.first_name},
            )
            return
        message = update.message
        if message is None or not message.is_topic_message or message.message_thread_id is None:
            return  # the group's general chat: not about a case
        if not self.handoff.is_staff(staff.id):
            return
        user_id = await self.handoff.store.user_for_thread(message.message_thread_id)
        if user_id is None:
            return
        command = _command(message, bot_name) if message.text else None
        if command == "":
            return  # for another bot in the group
        if command is not None:
            if command in STAFF_ACTIONS:
                await self.runner.submit(
                    user_id,
                    None,
                    None,
                    "staff_action",
                    update_id=update.update_id,
                    data={"action": command, "staff_id": staff.id, "staff_name": staff.first_name},
                )
            return
        if not (message.text or any(getattr(message, m, None) for m in _MEDIA_TYPES)):
            return  # service messages (topic created, pinned…) are not for the user
        await self.runner.submit(
            user_id,
            None,
            None,
            "staff_message",
            update_id=update.update_id,
            data={"message_id": message.message_id, "staff_id": staff.id, "staff_name": staff.first_name},
        )


def _command(message: Any, bot_name: str | None = None) -> str | None:
    """The command of `/start` or `/help@DalilBot`; "" for a command to another bot; else None."""
    text = (message.text or "").strip()
    if not text.startswith("/"):
        return None
    head = text.split()[0][1:]
    name, _, addressee = head.partition("@")
    if addressee and bot_name and addressee.lower() != bot_name.lower():
        return ""
    name = name.lower()
    return name if name.isascii() and name.replace("_", "").isalnum() else "unknown"


def _start_payload(text: str) -> str | None:
    """The deep-link payload of "/start <payload>" when it has Telegram's shape, else None."""
    parts = text.split(maxsplit=1)
    if len(parts) == 2 and PAYLOAD.fullmatch(parts[1].strip()):
        return parts[1].strip()
    return None


def install_safe_update_parsing() -> None:
    """One update python-telegram-bot cannot read must not stop every user.

    PTB parses a whole getUpdates batch at once; one malformed update (say, after a Bot API
    change) makes it fail, log the raw data (message texts) at CRITICAL and fetch the same batch
    again forever. Parsed one by one, an unreadable update becomes an empty Update with its id
    (so the offset moves past it), logged by id and error type only.
    """
    if getattr(Update.de_list, "_dalil_safe", False):
        return
    original = Update.de_list.__func__  # type: ignore[attr-defined]

    def de_list(cls: type[Update], data: Any, bot: Any = None) -> tuple[Update, ...]:
        updates: list[Update] = []
        for item in data or ():
            try:
                updates.extend(original(cls, [item], bot))
            except Exception as exc:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                log.error("skipped an unreadable update %s (%s)", update_id, type(exc).__name__)
                if isinstance(update_id, int):
                    updates.append(Update(update_id=update_id))
        return tuple(updates)

    de_list._dalil_safe = True  # type: ignore[attr-defined]
    Update.de_list = classmethod(de_list)  # type: ignore[method-assign,assignment]


async def _answer_query(query: Any, alert: str | None = None) -> None:
    try:
        await query.answer(text=alert, show_alert=bool(alert))
    except (BadRequest, NetworkError) as exc:  # old or already answered: harmless
        log.debug("answerCallbackQuery failed: %s", exc)


def add_handlers(application: AnyApplication, handlers: Handlers) -> None:
    application.add_handler(TypeHandler(Update, handlers.on_update, block=False))
