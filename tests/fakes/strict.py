"""A fake Bot API that refuses what the real one refuses, and a builder of Bot API updates.

`StrictTelegram` is the loopback `FakeTelegram` plus Telegram's own checks on the requests a bot
sends (sendMessage, editMessageText, copyMessage, answerCallbackQuery): valid UTF-8, a chat the
bot can write to, text of 1-4,096 characters once entities are parsed, a well-formed inline
keyboard with non-empty labels and 1-64-byte callback data, and no parse_mode but HTML, whose
markup must pass Telegram's HTML parser (the tags Telegram allows, properly nested). A refused
request gets the 400 (or 403) the real API would give and is kept in `rejected`, so a test can
assert that a real deployment would have delivered everything.

`UpdateBuilder` turns one entry of `tests/hostile/corpus.yml` into the JSON update Telegram
would deliver, with the minimal fields the Bot API always sets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME, FakeTelegram

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_ALERT = 200
MAX_BUTTONS_PER_ROW = 8
MAX_BUTTONS = 100
# Telegram's HTML parse mode: these tags and nothing else (https://core.telegram.org/bots/api#html-style).
HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_SPACE = " \t\n\r\v\f"
_CHECKED = ("sendMessage", "editMessageText", "copyMessage", "answerCallbackQuery")


class TelegramRefusal(Exception):
    """What the real Bot API would answer instead of `ok: true`."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Rejection:
    method: str
    status: int
    description: str
    params: dict[str, Any]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts entities (and lengths) in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity at `text[pos] == "&"` like Telegram: (character, next position)."""
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        hexadecimal = text.startswith(("x", "X"), end)
        end += hexadecimal
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        start = end
        while end < len(text) and text[end] in digits:
            end += 1
        if end == start:
            return None
        value = int(text[start:end], 16 if hexadecimal else 10)
        if value == 0 or value >= 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[pos + 1 : end])
        if named is None:
            return None  # Telegram keeps an unknown "&name" as literal text
        char = named
    if text.startswith(";", end):
        end += 1
    return char, end


def parse_html(text: str) -> str:
    """The plain text of a parse_mode=HTML message, or TelegramRefusal as Telegram words it."""
    out: list[str] = []
    open_tags: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not open_tags:
                raise TelegramRefusal(f"Can't parse entities: Unexpected end tag at byte offset {begin}")
            i += 1
            start = i
            while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
                i += 1
            name = text[start:i].lower()
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n or text[i] != ">":
                raise TelegramRefusal(f"Can't parse entities: Unclosed end tag at byte offset {begin}")
            expected = open_tags.pop()
            if name and name != expected:
                raise TelegramRefusal(
                    f"Can't parse entities: Unmatched end tag at byte offset {begin}, "
                    f'expected "</{expected}>", found "</{name}>"'
                )
            i += 1
            continue
        start = i
        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        if i >= n:
            raise TelegramRefusal(f"Can't parse entities: Unclosed start tag at byte offset {begin}")
        name = text[start:i].lower()
        if name not in HTML_TAGS:
            raise TelegramRefusal(f'Can\'t parse entities: Unsupported start tag "{name}" at byte offset {begin}')
        attributes: dict[str, str] = {}
        while True:
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n:
                raise TelegramRefusal(f"Can't parse entities: Unclosed start tag at byte offset {begin}")
            if text[i] == ">":
                break
            attr_start = i
            while i < n and text[i] not in _HTML_SPACE and text[i] not in "=>":
                i += 1
            attribute = text[attr_start:i].lower()
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n or text[i] != "=":
                if name == "blockquote" and attribute == "expandable":
                    continue
                raise TelegramRefusal(
                    f'Can\'t parse entities: Expected equal sign in declaration of an attribute of the tag "{name}"'
                )
            i += 1
            while i < n and text[i] in _HTML_SPACE:
                i += 1
            if i >= n:
                raise TelegramRefusal(f"Can't parse entities: Unclosed start tag at byte offset {begin}")
            if text[i] in "'\"":
                quote, i = text[i], i + 1
                value_start = i
                while i < n and text[i] != quote:
                    i += 1
                value = text[value_start:i]
                i += 1
            else:
                value_start = i
                while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] in ".-")):
                    i += 1
                value = text[value_start:i].lower()
                if i < n and text[i] not in _HTML_SPACE and text[i] != ">":
                    raise TelegramRefusal(
                        f"Can't parse entities: Unexpected end of name token at byte offset {value_start}"
                    )
            attributes[attribute] = value
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise TelegramRefusal(
                f'Can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        open_tags.append(name)
        i += 1
    if open_tags:
        raise TelegramRefusal(
            f"Can't parse entities: Can't find end tag corresponding to start tag \"{open_tags[-1]}\""
        )
    return "".join(out)


def check_text(text: Any, parse_mode: Any) -> None:
    """Telegram's rules for a message text (sendMessage, editMessageText)."""
    if not isinstance(text, str):
        raise TelegramRefusal("Bad Request: message text is empty")
    if parse_mode in (None, ""):
        plain = text
    elif parse_mode == "HTML":
        plain = parse_html(text)
    else:
        raise TelegramRefusal(f"Bad Request: parse_mode {parse_mode!r} is not one this project may use")
    if not plain.strip():
        raise TelegramRefusal("Bad Request: message text is empty")
    if utf16_len(plain) > MAX_TEXT:
        raise TelegramRefusal("Bad Request: message is too long")


def check_markup(raw: Any) -> None:
    """An inline keyboard as Telegram accepts it."""
    if raw is None:
        return
    try:
        markup = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise TelegramRefusal("Bad Request: can't parse reply keyboard markup JSON object") from exc
    if not isinstance(markup, dict):
        raise TelegramRefusal("Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return  # reply keyboards, force_reply, remove_keyboard: not used by this bot, not checked
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise TelegramRefusal(
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > MAX_BUTTONS or any(len(row) > MAX_BUTTONS_PER_ROW for row in rows):
        raise TelegramRefusal("Bad Request: reply markup is too long")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"].strip():
            raise TelegramRefusal("Bad Request: BUTTON_TEXT_EMPTY")
        actions = [k for k in button if k != "text"]
        if len(actions) != 1:
            raise TelegramRefusal(
                "Bad Request: can't parse inline keyboard button: exactly one optional field must be used"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8", "surrogatepass")) <= MAX_CALLBACK_DATA:
                raise TelegramRefusal("Bad Request: BUTTON_DATA_INVALID")
        elif "url" in button:
            if not str(button["url"]).startswith(("http://", "https://", "tg://")):
                raise TelegramRefusal("Bad Request: BUTTON_URL_INVALID")


def check_utf8(raw: bytes, content_type: str) -> None:
    """The request body is valid UTF-8 (no lone surrogates smuggled through JSON escapes)."""
    try:
        if content_type == "application/x-www-form-urlencoded":
            values = [
                v
                for pair in parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
                for v in pair
            ]
        elif content_type == "application/json":
            values = [json.dumps(json.loads(raw.decode("utf-8")), ensure_ascii=False)]
        else:
            return  # multipart uploads: not sent by the paths under test
        for value in values:
            value.encode("utf-8")
    except (UnicodeError, ValueError) as exc:
        raise TelegramRefusal("Bad Request: strings must be encoded in UTF-8") from exc


class StrictTelegram(FakeTelegram):
    """FakeTelegram that validates every message-producing request like the real Bot API."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.rejected: list[Rejection] = []
        self.chats: dict[int, dict[str, Any]] = {}  # chats the bot can see, from updates
        self.bot_users: set[int] = set()  # private "chats" with bots: 403
        self.queries: dict[str, int] = {}  # callback_query id -> times answered
        self.messages: dict[int, set[int]] = {}  # chat id -> message ids that exist there
        # The real API is a network round trip away; a fake that answers in microseconds hides
        # races between a handler's Bot API call and what the handler does next.
        self.latency = 0.0

    # -- what the bot has seen ------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Deliver any Bot API update (without update_id) to the bot; return its update_id."""
        return self._push(update)

    def _push(self, update: dict[str, Any]) -> int:
        self._learn(update)
        return super()._push(update)

    def _learn(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self._learn(item)
            return
        if not isinstance(node, dict):
            return
        chat = node.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            self.chats.setdefault(chat["id"], chat)
            if isinstance(node.get("message_id"), int):
                self.messages.setdefault(chat["id"], set()).add(node["message_id"])
        sender = node.get("from")
        if isinstance(sender, dict) and sender.get("is_bot") and sender.get("id") != BOT_ID:
            self.bot_users.add(int(sender["id"]))
        if "chat_instance" in node and "id" in node:
            self.queries.setdefault(str(node["id"]), 0)
        for value in node.values():
            self._learn(value)

    def _message(self, chat_id: int, text: str | None, params: dict[str, Any], method: str) -> dict[str, Any]:
        message = super()._message(chat_id, text, params, method)
        self.messages.setdefault(chat_id, set()).add(message["message_id"])
        return message

    # -- Telegram's checks ----------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        """The parent's parsing, from the cached body (it is read twice: checks, then handling)."""
        if request.content_type not in ("application/json", "application/x-www-form-urlencoded"):
            return await super()._params(request)
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw and request.content_type == "application/json":
            params.update(json.loads(raw))
        elif raw:
            params.update(parse_qsl(raw.decode("ascii", "replace"), keep_blank_values=True, errors="replace"))
        for key in ("chat_id", "offset", "limit", "timeout", "message_id", "message_thread_id", "from_chat_id"):
            if isinstance(params.get(key), str):
                try:
                    params[key] = int(params[key])
                except ValueError:
                    pass
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if self.latency and method != "getUpdates":
            await asyncio.sleep(self.latency)
        if method not in _CHECKED or request.match_info["token"] != self.token:
            return await super()._handle(request)
        raw = await request.read()
        params = await self._params(request)
        try:
            check_utf8(raw, request.content_type)
            self._check(method, params)
        except TelegramRefusal as refusal:
            self.calls.append((method, params))
            self.rejected.append(Rejection(method, refusal.status, refusal.description, params))
            error = "Forbidden" if refusal.status == 403 else "Bad Request"
            description = refusal.description if ":" in refusal.description[:12] else f"{error}: {refusal.description}"
            return web.json_response(
                {"ok": False, "error_code": refusal.status, "description": description}, status=refusal.status
            )
        return await super()._handle(request)

    def _chat(self, value: Any) -> int:
        try:
            chat_id = int(value)
        except (TypeError, ValueError) as exc:
            raise TelegramRefusal("Bad Request: chat not found") from exc
        if chat_id in self.bot_users and chat_id > 0:
            raise TelegramRefusal("Forbidden: bot can't send messages to bots", 403)
        if chat_id not in self.chats:
            raise TelegramRefusal("Bad Request: chat not found")
        return chat_id

    def _check(self, method: str, params: dict[str, Any]) -> None:
        if method == "answerCallbackQuery":
            query_id = str(params.get("callback_query_id", ""))
            if self.queries.get(query_id) != 0:
                raise TelegramRefusal(
                    "Bad Request: query is too old and response timeout expired or query ID is invalid"
                )
            if len(str(params.get("text") or "")) > MAX_ALERT:
                raise TelegramRefusal("Bad Request: MESSAGE_TOO_LONG")
            self.queries[query_id] = 1
            return
        if method == "copyMessage":
            self._chat(params.get("chat_id"))
            source = self._chat(params.get("from_chat_id"))
            if int(params.get("message_id") or 0) not in self.messages.get(source, set()):
                raise TelegramRefusal("Bad Request: message to copy not found")
            check_markup(params.get("reply_markup"))
            return
        if method == "editMessageText" and "inline_message_id" not in params:
            chat_id = self._chat(params.get("chat_id"))
            if int(params.get("message_id") or 0) not in self.messages.get(chat_id, set()):
                raise TelegramRefusal("Bad Request: message to edit not found")
        elif method == "sendMessage":
            self._chat(params.get("chat_id"))
        check_text(params.get("text"), params.get("parse_mode"))
        check_markup(params.get("reply_markup"))
        for key in ("link_preview_options", "reply_parameters", "entities"):
            if isinstance(params.get(key), str):
                try:
                    json.loads(params[key])
                except json.JSONDecodeError as exc:
                    raise TelegramRefusal(f"Bad Request: can't parse {key} JSON object") from exc


# -- updates -------------------------------------------------------------------------------
ANONYMOUS_ADMIN = 1087968824  # "GroupAnonymousBot", the sender of anonymous admins' messages
SERVICE_USER = 777000  # "Telegram", the sender of channel posts forwarded to a discussion group


class UpdateBuilder:
    """Turns corpus entries into Bot API updates (minimal fields, as Telegram sends them)."""

    def __init__(self) -> None:
        self._ids = itertools.count(50_000)

    def next_id(self) -> int:
        return next(self._ids)

    @staticmethod
    def person(user_id: int, language_code: str | None, **overrides: Any) -> dict[str, Any]:
        person: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            person["language_code"] = language_code
        person.update(overrides)
        return {k: v for k, v in person.items() if v is not None}

    @staticmethod
    def private_chat(user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user.get("first_name", "")}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    @staticmethod
    def command_entities(text: str) -> list[dict[str, Any]]:
        """The bot_command entity Telegram adds when a message starts with /name."""
        head = text.split()[0] if text.split() else ""
        name = head[1:].split("@", 1)[0]
        if not text.startswith("/") or not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
            return []
        return [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}]

    def message(self, chat: dict[str, Any], sender: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": self.next_id(), "date": int(time.time()), "chat": chat}
        if sender is not None:
            message["from"] = sender
        message.update(fields)
        text = fields.get("text")
        if isinstance(text, str) and "entities" not in fields and self.command_entities(text):
            message["entities"] = self.command_entities(text)
        return message

    def callback(
        self, sender: dict[str, Any], chat: dict[str, Any] | None, data: str | None, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"id": str(self.next_id()), "from": sender, "chat_instance": str(-self.next_id())}
        if chat is not None:
            query["message"] = {
                "message_id": self.next_id(),
                "date": int(time.time()),
                "chat": chat,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Dalil", "username": BOT_USERNAME},
                "text": "…",
            }
        else:
            query["inline_message_id"] = f"AAAA{self.next_id()}"
        if data is not None:
            query["data"] = data
        query.update(extra or {})
        return {"callback_query": query}
