"""The bot's Telegram profile (content/commands.yml, bot/gateway/commands.py): the real file passes
the check, a bad one is reported and not sent, and the calls go out per scope and language with
a refusal logged without ids."""

from __future__ import annotations

import inspect
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from telegram import BotCommandScopeAllPrivateChats, BotCommandScopeChat, MenuButtonCommands
from telegram.error import BadRequest

from bot.core.content import Library, load_yaml
from bot.core.settings import PROJECT_ROOT, Settings
from bot.gateway.admin import ADMIN_COMMANDS
from bot.gateway.commands import check_menu, load_menu, plan, publish_commands, read_menu, redact
from bot.gateway.engine import Engine
from bot.gateway.handoff import STAFF_ACTIONS

HOTLINE = -1001234567890
ADMINS = frozenset({4242, 5555})


def engine_commands() -> set[str]:
    """The commands Engine._command answers, read from its source (`name == "help"`)."""
    return set(re.findall(r'name == "([a-z0-9_]+)"', inspect.getsource(Engine._command))) - {"group"}


KNOWN = {"user": engine_commands(), "staff": STAFF_ACTIONS, "admin": ADMIN_COMMANDS}


def good() -> dict[str, Any]:
    texts = {"fr": "Texte", "ar": "نص", "en": "Text"}
    return {
        "description": dict(texts),
        "short_description": dict(texts),
        "commands": {"user": {"start": dict(texts)}, "staff": {"take": dict(texts)}, "admin": {"stats": dict(texts)}},
    }


def test_the_real_file_passes_and_names_only_commands_the_bot_answers() -> None:
    assert {"start", "help", "language", "human", "privacy", "forget"} <= KNOWN["user"]
    raw = read_menu(Library())
    assert check_menu(raw, KNOWN) == []
    assert "{operator}" not in raw["description"]["fr"]  # filled in
    commands = raw["commands"]
    assert list(commands["user"]) == ["start", "help", "language", "human", "privacy", "alerts", "forget"]
    assert set(commands["staff"]) == set(STAFF_ACTIONS)
    assert set(commands["admin"]) == set(ADMIN_COMMANDS)


def test_the_real_texts_are_honest_and_in_three_languages() -> None:
    raw = load_yaml(PROJECT_ROOT / "content" / "commands.yml")
    for lang in ("fr", "ar", "en"):
        assert "{operator}" in raw["description"][lang]  # says who runs it
        assert "/forget" in raw["description"][lang]
    assert "gratuit" in raw["description"]["fr"] and "pas un service" in raw["description"]["fr"]
    assert "free" in raw["description"]["en"] and "not a government service" in raw["description"]["en"]
    assert "مجاني" in raw["description"]["ar"] and "ليس خدمة حكومية" in raw["description"]["ar"]


def test_a_good_menu_passes() -> None:
    assert check_menu(good(), KNOWN) == []


def test_too_long_texts_are_reported() -> None:
    raw = good()
    raw["description"]["fr"] = "x" * 513
    raw["short_description"]["en"] = "🙂" * 61  # 122 UTF-16 units: Telegram counts an emoji twice
    raw["commands"]["user"]["start"]["ar"] = "ن" * 257
    problems = check_menu(raw, KNOWN)
    assert "description (fr): 513 characters, Telegram allows 512" in problems
    assert "short_description (en): 122 characters, Telegram allows 120" in problems
    assert "commands.user.start (ar): 257 characters, Telegram allows 256" in problems
    assert len(problems) == 3


def test_bad_command_names_missing_texts_and_unknown_commands_are_reported() -> None:
    raw = good()
    texts = {"fr": "a", "ar": "b", "en": "c"}
    raw["commands"]["user"]["Menu"] = dict(texts)  # uppercase
    raw["commands"]["user"]["a_very_long_command_name_over_32_chars"] = dict(texts)
    raw["commands"]["user"]["aide-moi"] = dict(texts)
    raw["commands"]["staff"]["take"] = {"fr": "Prendre", "ar": ""}
    raw["commands"]["admin"]["shutdown"] = dict(texts)
    problems = check_menu(raw, KNOWN)
    assert sum("must be 1-32 characters among a-z, 0-9 and _" in p for p in problems) == 3, problems
    assert "commands.staff.take: no ar text" in problems
    assert "commands.staff.take: no en text" in problems
    assert any(p.startswith("commands.admin: /shutdown is not a command the bot answers") for p in problems)
    assert len(problems) == 6


def test_a_malformed_file_is_reported_not_raised() -> None:
    assert check_menu(None) != []
    assert check_menu({"description": "only French"}) != []
    problems = check_menu({**good(), "commands": {"user": {"start": good()["description"]}, "admins": {}}})
    assert "commands.staff: expected commands, each with its description per language" in problems
    assert "commands: unknown list 'admins' (expected user, staff, admin)" in problems


# -- the calls ------------------------------------------------------------------------------
class RecordingBot:
    """Stands for telegram.Bot: records each call; refuses the admins' chats when asked."""

    def __init__(self, refuse_chats: frozenset[int] = frozenset()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_chats = refuse_chats

    async def set_my_commands(self, commands: Any, scope: Any = None, language_code: str | None = None) -> bool:
        self.calls.append(("setMyCommands", {"commands": commands, "scope": scope, "language_code": language_code}))
        if isinstance(scope, BotCommandScopeChat) and scope.chat_id in self.refuse_chats:
            raise BadRequest(f"Chat not found (chat {scope.chat_id})")
        return True

    async def set_my_description(self, description: str, language_code: str | None = None) -> bool:
        self.calls.append(("setMyDescription", {"description": description, "language_code": language_code}))
        return True

    async def set_my_short_description(self, short_description: str, language_code: str | None = None) -> bool:
        self.calls.append(("setMyShortDescription", {"text": short_description, "language_code": language_code}))
        return True

    async def set_chat_menu_button(self, chat_id: int | None = None, menu_button: Any = None) -> bool:
        self.calls.append(("setChatMenuButton", {"chat_id": chat_id, "menu_button": menu_button}))
        return True


def settings(**values: Any) -> Settings:
    return Settings(**values)


async def test_every_scope_and_language_is_published() -> None:
    bot = RecordingBot()
    assert await publish_commands(bot, Library(), settings(hotline_chat_id=HOTLINE, admin_user_ids=ADMINS))  # type: ignore[arg-type]
    commands = [p for m, p in bot.calls if m == "setMyCommands"]
    assert len(commands) == 4 * 4  # (private, hotline, 2 admins) x (default, fr, ar, en)
    for lang in (None, "fr", "ar", "en"):
        mine = {_scope(p["scope"]): [c.command for c in p["commands"]] for p in commands if p["language_code"] == lang}
        assert mine["private"] == ["start", "help", "language", "human", "privacy", "alerts", "forget"]
        assert mine[HOTLINE] == ["take", "bot", "close"]
        for admin in ADMINS:
            assert mine[admin] == [*mine["private"], "stats", "unanswered", "publish", "rollback", "broadcast"]
    default = next(p for p in commands if p["language_code"] is None)
    french = next(p for p in commands if p["language_code"] == "fr" and _scope(p["scope"]) == "private")
    arabic = next(p for p in commands if p["language_code"] == "ar" and _scope(p["scope"]) == "private")
    assert [c.description for c in default["commands"]] == [c.description for c in french["commands"]]
    assert arabic["commands"][0].description != french["commands"][0].description
    descriptions = {p["language_code"]: p["description"] for m, p in bot.calls if m == "setMyDescription"}
    shorts = {p["language_code"]: p["text"] for m, p in bot.calls if m == "setMyShortDescription"}
    assert set(descriptions) == set(shorts) == {None, "fr", "ar", "en"}
    assert descriptions[None] == descriptions["fr"] and "Dalil" in descriptions["fr"]
    assert all(len(d) <= 512 for d in descriptions.values()) and all(len(s) <= 120 for s in shorts.values())
    [button] = [p for m, p in bot.calls if m == "setChatMenuButton"]
    assert button["chat_id"] is None and isinstance(button["menu_button"], MenuButtonCommands)


def _scope(scope: Any) -> Any:
    return "private" if isinstance(scope, BotCommandScopeAllPrivateChats) else scope.chat_id


def test_without_hotline_or_admins_only_private_chats_get_commands() -> None:
    menu, problems = load_menu(Library())
    assert menu is not None and problems == []
    calls = plan(menu, settings())
    assert [c.label for c in calls if c.method == "setMyCommands"] == [
        "private chats, language default",
        "private chats, language fr",
        "private chats, language ar",
        "private chats, language en",
    ]
    assert len(calls) == 4 * 3 + 1


async def test_a_refused_call_is_logged_without_ids_and_the_rest_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    bot = RecordingBot(refuse_chats=frozenset({5555}))
    with caplog.at_level(logging.WARNING, logger="bot.gateway.commands"):
        ok = await publish_commands(bot, Library(), settings(admin_user_ids=ADMINS))  # type: ignore[arg-type]
    assert ok is False
    assert len([m for m, _ in bot.calls if m == "setMyCommands"]) == 3 * 4  # every call was still made
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(refusals) == 4  # the refused admin, in each language
    assert all("setMyCommands" in r.getMessage() and "admin 2 of 2" in r.getMessage() for r in refusals)
    assert "5555" not in caplog.text and "4242" not in caplog.text


async def test_a_file_with_problems_is_not_sent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "content").mkdir()
    shutil.copy(PROJECT_ROOT / "content" / "hotline.yml", tmp_path / "content" / "hotline.yml")
    text = (PROJECT_ROOT / "content" / "commands.yml").read_text(encoding="utf-8")
    (tmp_path / "content" / "commands.yml").write_text(text.replace("    language:", "    Language:"), encoding="utf-8")
    bot = RecordingBot()
    with caplog.at_level(logging.WARNING, logger="bot.gateway.commands"):
        assert await publish_commands(bot, Library(tmp_path), settings()) is False  # type: ignore[arg-type]
    assert bot.calls == []
    assert "'Language'" in caplog.text and "left as it was" in caplog.text
    (tmp_path / "content" / "commands.yml").unlink()
    assert await publish_commands(bot, Library(tmp_path), settings()) is False  # type: ignore[arg-type]
    assert bot.calls == []


def test_refusals_are_logged_without_chat_ids() -> None:
    assert redact("Group migrated to supergroup. New chat id: -1009876543210", set()) == (
        "Group migrated to supergroup. New chat id: …"
    )
    assert redact("Chat 777 not found", {777}) == "Chat … not found"
    assert redact("Too Many Requests: retry after 35", {5555}) == "Too Many Requests: retry after 35"
