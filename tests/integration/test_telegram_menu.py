"""The bot's Telegram profile, end to end: the real gateway, at start-up, sets its commands per
scope (private chats, the hotline group, each admin) and language, its descriptions and the
menu button on the (fake) Bot API, from content/commands.yml; a refusal does not stop it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.content import library, load_yaml
from bot.core.settings import PROJECT_ROOT
from tests.conftest import HOTLINE, STAFF, Stack, start_gateway
from tests.fakes.telegram_api import FakeTelegram, Fault

pytestmark = pytest.mark.rasa
ADMIN = 5555
LANGS = (None, "fr", "ar", "en")
USER = ["start", "help", "language", "human", "privacy", "alerts", "forget"]


def decoded(params: dict[str, Any], key: str) -> Any:
    """A parameter as the bot meant it: python-telegram-bot sends objects as JSON strings in a form."""
    value = params.get(key)
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def commands_by_scope(api: FakeTelegram) -> dict[tuple[Any, str | None], list[dict[str, str]]]:
    """(scope: "private" or a chat id, language code or None) -> the commands set for it."""
    out: dict[tuple[Any, str | None], list[dict[str, str]]] = {}
    for method, params in api.calls:
        if method != "setMyCommands":
            continue
        scope = decoded(params, "scope") or {"type": "default"}
        key = "private" if scope["type"] == "all_private_chats" else int(scope.get("chat_id", 0)) or scope["type"]
        out[(key, params.get("language_code") or None)] = decoded(params, "commands")
    return out


def texts_by_language(api: FakeTelegram, method: str, field: str) -> dict[str | None, str]:
    return {p.get("language_code") or None: p[field] for m, p in api.calls if m == method}


async def test_the_gateway_sets_its_commands_descriptions_and_menu_button(
    stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api = fake_telegram
    gw = await start_gateway(
        stack, api, tmp_path, HOTLINE_CHAT_ID=str(HOTLINE), HOTLINE_STAFF_IDS=str(STAFF), ADMIN_USER_IDS=str(ADMIN)
    )
    try:
        content = load_yaml(PROJECT_ROOT / "content" / "commands.yml")
        commands = commands_by_scope(api)
        assert len(commands) == 3 * len(LANGS)
        for lang in LANGS:
            texts = lang or "fr"  # no language_code: French
            private = commands[("private", lang)]
            assert [c["command"] for c in private] == USER
            assert [c["description"] for c in private] == [content["commands"]["user"][n][texts] for n in USER]
            hotline = commands[(HOTLINE, lang)]
            assert [c["command"] for c in hotline] == ["take", "bot", "close"]
            assert hotline[0]["description"] == content["commands"]["staff"]["take"][texts]
            admin = commands[(ADMIN, lang)]
            assert [c["command"] for c in admin] == [*USER, "stats", "unanswered", "publish", "rollback", "broadcast"]
        assert commands[("private", "ar")][0]["description"] == "البدء: اختيار اللغة ورؤية القائمة"

        descriptions = texts_by_language(api, "setMyDescription", "description")
        shorts = texts_by_language(api, "setMyShortDescription", "short_description")
        assert set(descriptions) == set(shorts) == set(LANGS)
        for lang in LANGS:
            expected = library().fill(content["description"][lang or "fr"], lang or "fr").strip()
            assert descriptions[lang] == expected and "{operator}" not in expected
            assert shorts[lang] == content["short_description"][lang or "fr"]
        assert descriptions[None] == descriptions["fr"] != descriptions["ar"]

        [button] = [p for m, p in api.calls if m == "setChatMenuButton"]
        assert decoded(button, "menu_button") == {"type": "commands"} and "chat_id" not in button
        assert "Telegram menu published" in gw.log() and "refused" in gw.log()
    finally:
        gw.stop()


async def test_a_refused_call_is_logged_without_ids_and_the_gateway_still_answers(
    stack: Stack, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    api = fake_telegram
    refusal = Fault(400, f"Bad Request: chat not found (chat {ADMIN})")
    api.fail_next("setMyCommands", refusal, refusal)
    api.fail_next("setMyDescription", Fault(429, "Too Many Requests: retry after 5", retry_after=5))
    gw = await start_gateway(stack, api, tmp_path, ADMIN_USER_IDS=str(ADMIN))
    try:
        assert len(commands_by_scope(api)) == 2 * len(LANGS)  # every call was still made
        api.message(6001, "/privacy")
        [reply] = await api.wait_for(6001, 1)
        assert "🔒" in reply.text
        log = gw.log()
        assert log.count("Telegram refused setMyCommands") == 2
        assert "Telegram refused setMyDescription" in log
        assert "chat not found" in log.lower() and str(ADMIN) not in log
    finally:
        gw.stop()
