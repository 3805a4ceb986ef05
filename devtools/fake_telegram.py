"""A fake Telegram Bot API server, over real HTTP on loopback, for the tests and `dalil bench`.

A development tool, never used in production: point the gateway at it with TELEGRAM_API_URL.

It speaks enough of the Bot API for python-telegram-bot: getMe, getUpdates (long polling),
setWebhook/deleteWebhook, sendMessage, editMessageText, answerCallbackQuery, setMyCommands,
forum topics (created, renamed, closed, reopened, deleted), pinChatMessage, deleteMessage(s),
copyMessage and the media senders. Tests push user updates with `push_*` and read what the bot
sent from `sent`. Faults can be injected per method (`fail_next`).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiohttp import web

BOT_ID = 4242
BOT_USERNAME = "DalilTestBot"


@dataclass
class Sent:
    method: str
    chat_id: int
    text: str | None
    params: dict[str, Any]
    message_id: int
    at: float

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        rows = (markup or {}).get("inline_keyboard") or []
        return [b for row in rows for b in row]

    def button(self, label_part: str) -> dict[str, Any]:
        for b in self.buttons:
            if label_part in b["text"]:
                return b
        raise AssertionError(f"no button containing {label_part!r} in {[b['text'] for b in self.buttons]}")


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-TOKEN"
    host: str = "127.0.0.1"
    port: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted_topics: list[int] = field(default_factory=list)
    deleted: list[tuple[int, int]] = field(default_factory=list)  # (chat id, message id) deleted by the bot

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._new_sent = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._topic_ids = itertools.count(100)

    # -- server ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, str) else "<file>"
                    upload = getattr(value, "file", None)
                    if upload is not None:  # an uploaded file (sendPhoto): its bytes, for tests to look at
                        params.setdefault("_files", {})[key] = upload.read()
        for key in ("chat_id", "offset", "limit", "timeout", "message_id", "message_thread_id", "from_chat_id"):
            if key in params and isinstance(params[key], str):
                try:
                    params[key] = int(params[key])
                except ValueError:
                    pass
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        queue = self.faults.get(method)
        if queue:
            fault = queue.pop(0)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                body: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                return web.json_response(body, status=fault.status)
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return web.json_response({"ok": True, "result": True})
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    # -- methods --------------------------------------------------------------------------
    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Dalil",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + min(timeout, 1.0)  # short polls: quick shutdowns in tests
        while not self.updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    def _message(self, chat_id: int, text: str | None, params: dict[str, Any], method: str) -> dict[str, Any]:
        message_id = next(self._message_ids)
        self.sent.append(Sent(method, chat_id, text, params, message_id, time.monotonic()))
        self._new_sent.set()
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Dalil", "username": BOT_USERNAME},
        }
        if text is not None:
            message["text"] = text
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        return message

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text", ""))
        if not text.strip():
            return await self._bad("Bad Request: message text is empty")
        if len(text) > 4096:
            return await self._bad("Bad Request: message is too long")
        return self._message(int(params["chat_id"]), text, params, "sendMessage")

    async def _bad(self, description: str) -> NoReturn:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "error_code": 400, "description": description}),
            content_type="application/json",
        )

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(int(params.get("chat_id") or 0), str(params.get("text", "")), params, "editMessageText")

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_createForumTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = next(self._topic_ids)
        topic = {"message_thread_id": thread_id, "name": params.get("name", ""), "icon_color": 7322096}
        self.topics[thread_id] = dict(topic, closed=False)
        return topic

    async def _topic(self, params: dict[str, Any]) -> dict[str, Any]:
        topic = self.topics.get(int(params.get("message_thread_id") or 0))
        if topic is None:
            await self._bad("Bad Request: TOPIC_ID_INVALID")
        return topic

    async def _m_closeForumTopic(self, params: dict[str, Any]) -> bool:
        topic = await self._topic(params)
        if topic.get("closed"):
            await self._bad("Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = True
        return True

    async def _m_reopenForumTopic(self, params: dict[str, Any]) -> bool:
        topic = await self._topic(params)
        if not topic.get("closed"):
            await self._bad("Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = False
        return True

    async def _m_editForumTopic(self, params: dict[str, Any]) -> bool:
        topic = await self._topic(params)
        name = str(params.get("name") or "")
        if len(name) > 128:
            await self._bad("Bad Request: TOPIC_NAME_INVALID")
        if not name or name == topic.get("name"):
            await self._bad("Bad Request: TOPIC_NOT_MODIFIED")
        topic["name"] = name
        return True

    async def _m_pinChatMessage(self, params: dict[str, Any]) -> bool:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        if not any(s.chat_id == chat_id and s.message_id == message_id for s in self.sent):
            await self._bad("Bad Request: message to pin not found")
        return True

    async def _m_deleteForumTopic(self, params: dict[str, Any]) -> bool:
        await self._topic(params)
        thread_id = int(params["message_thread_id"])
        del self.topics[thread_id]
        self.deleted_topics.append(thread_id)
        return True

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        if not any(s.chat_id == chat_id and s.message_id == message_id for s in self.sent):
            await self._bad("Bad Request: message to delete not found")
        self.deleted.append((chat_id, message_id))
        return True

    async def _m_deleteMessages(self, params: dict[str, Any]) -> bool:
        chat_id = int(params["chat_id"])
        ids = params.get("message_ids") or []
        if isinstance(ids, str):
            ids = json.loads(ids)
        if not 1 <= len(ids) <= 100:
            await self._bad("Bad Request: message_ids must have 1 to 100 elements")
        sent = {s.message_id for s in self.sent if s.chat_id == chat_id}
        self.deleted.extend((chat_id, int(i)) for i in ids if int(i) in sent)  # unknown ids are skipped
        return True

    def deleted_in(self, chat_id: int) -> list[int]:
        """Ids of the messages the bot deleted in `chat_id`."""
        return [message_id for chat, message_id in self.deleted if chat == chat_id]

    async def _m_copyMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(int(params["chat_id"]), None, params, "copyMessage")
        return {"message_id": message["message_id"]}

    async def _media(self, params: dict[str, Any], method: str) -> dict[str, Any]:
        return self._message(int(params["chat_id"]), params.get("caption"), params, method)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media(params, "sendPhoto")

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media(params, "sendDocument")

    async def _m_sendVoice(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media(params, "sendVoice")

    async def _m_sendLocation(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media(params, "sendLocation")

    # -- test helpers ---------------------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        self.updates.append(update)
        self._new_update.set()
        return update_id

    @staticmethod
    def user(user_id: int, language_code: str | None = "fr") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        language_code: str | None = "fr",
        chat: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        kind: str = "message",
    ) -> int:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat or {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
            "from": self.user(user_id, language_code),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        message.update(extra or {})
        if kind == "edited_message":
            message["edit_date"] = int(time.time())
        return self._push({kind: message})

    def press(self, user_id: int, callback_data: str, *, language_code: str | None = "fr") -> int:
        return self._push(
            {
                "callback_query": {
                    "id": str(next(self._message_ids)),
                    "from": self.user(user_id, language_code),
                    "chat_instance": "ci",
                    "data": callback_data,
                    "message": {
                        "message_id": next(self._message_ids),
                        "date": int(time.time()),
                        "chat": {"id": user_id, "type": "private"},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Dalil"},
                        "text": "…",
                    },
                }
            }
        )

    def staff_message(
        self,
        group_id: int,
        staff_id: int,
        thread_id: int,
        text: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """A staff member writes in a forum topic of the hotline group."""
        chat = {"id": group_id, "type": "supergroup", "title": "Hotline", "is_forum": True}
        return self.message(
            staff_id,
            text,
            chat=chat,
            language_code="fr",
            extra={"message_thread_id": thread_id, "is_topic_message": True, **(extra or {})},
        )

    def staff_press(self, group_id: int, staff_id: int, callback_data: str) -> int:
        return self._push(
            {
                "callback_query": {
                    "id": str(next(self._message_ids)),
                    "from": self.user(staff_id, "fr"),
                    "chat_instance": "hotline",
                    "data": callback_data,
                    "message": {
                        "message_id": next(self._message_ids),
                        "date": int(time.time()),
                        "chat": {"id": group_id, "type": "supergroup", "title": "Hotline", "is_forum": True},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Dalil"},
                        "text": "card",
                    },
                }
            }
        )

    def in_thread(self, chat_id: int, thread_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and s.params.get("message_thread_id") == thread_id]

    def fail_next(self, method: str, *faults: Fault) -> None:
        self.faults[method].extend(faults)

    def to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    async def wait_for(self, chat_id: int, count: int, timeout: float = 30.0) -> list[Sent]:
        """Wait until `count` messages were sent to `chat_id` in total; return them all."""
        await self.wait_until(chat_id, lambda sent: len(sent) >= count, timeout, f"{count} messages")
        return self.to(chat_id)

    async def wait_until(
        self,
        chat_id: int,
        done: Callable[[list[Sent]], bool],
        timeout: float = 30.0,
        what: str = "the expected messages",
    ) -> list[Sent]:
        """Wait until `done(messages sent to chat_id)` holds; return them all.

        For tests where other messages (acknowledgements, pages) may interleave with the ones
        awaited: they wait for what they need, not for a count of everything sent."""
        deadline = time.monotonic() + timeout
        while not done(self.to(chat_id)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = [s.text for s in self.to(chat_id)]
                raise AssertionError(f"expected {what} to {chat_id} within {timeout:.0f} s, got {len(got)}: {got}")
            self._new_sent.clear()
            try:
                await asyncio.wait_for(self._new_sent.wait(), timeout=min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass
        return self.to(chat_id)

    async def quiet(self, chat_id: int, seconds: float = 1.0) -> list[Sent]:
        """Wait until nothing more is sent to `chat_id` for `seconds`; return everything sent."""
        count = -1
        while count != len(self.to(chat_id)):
            count = len(self.to(chat_id))
            await asyncio.sleep(seconds)
        return self.to(chat_id)


def _more_than(count: int, sent: list[Sent]) -> bool:
    return len(sent) > count


async def _chat(port: int) -> None:
    """Be one Telegram user against a gateway pointed at this fake Bot API (see `main`)."""
    api = await FakeTelegram(port=port).start()
    print(f"TELEGRAM_BOT_TOKEN={api.token} TELEGRAM_API_URL={api.base_url} dalil run", flush=True)
    print("Type a message; !N presses button N of the last message; !loc LAT,LON shares a location.", flush=True)
    user, shown, buttons = 5050, 0, list[dict[str, Any]]()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        text = line.strip()
        if text.startswith("!loc "):
            lat, _, lon = text[5:].partition(",")
            api.message(user, None, extra={"location": {"latitude": float(lat), "longitude": float(lon)}})
        elif text.startswith("!") and text[1:].isdigit() and 0 < int(text[1:]) <= len(buttons):
            api.press(user, buttons[int(text[1:]) - 1]["callback_data"])
        else:
            api.message(user, text)
        await api.wait_until(user, functools.partial(_more_than, shown), timeout=120)
        for sent in (await api.quiet(user, 1.5))[shown:]:
            print(sent.text or f"({sent.method})", flush=True)
            buttons = sent.buttons or buttons
            for n, button in enumerate(sent.buttons, 1):
                print(f"  [!{n}] {button['text']}", flush=True)
            markup = sent.params.get("reply_markup")
            keys = json.loads(markup).get("keyboard") if isinstance(markup, str) else None
            if keys:
                print("  ⌨ " + " / ".join(" · ".join(k["text"] for k in row) for row in keys), flush=True)
        shown = len(api.to(user))
    await api.stop()


def main() -> None:
    """`python -m devtools.fake_telegram [PORT]`: a fake Bot API on loopback and a chat with it,
    to try the Telegram side (deep links, keyboards, pages, location) without Telegram."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8089
    asyncio.run(_chat(port))


if __name__ == "__main__":
    main()
