"""The bot's profile on Telegram, set by the gateway itself at every start.

`content/commands.yml` holds what a person sees before pressing Start (the description), the
short description of the bot's profile and the command menu, in French, Arabic and English.
`publish_commands` sends them with setMyDescription, setMyShortDescription, setMyCommands and
setChatMenuButton, per language (`language_code` fr, ar, en, and none: French) and per scope:

- every private chat: the user commands;
- the hotline group (HOTLINE_CHAT_ID, when set): the staff commands (/take, /bot, /close);
- each admin's private chat (ADMIN_USER_IDS): the user commands, then the admin commands.

`check_menu` is the pure check of the file (Telegram's limits, command names, three languages)
that a content check can call too. A file with problems is not sent (Telegram keeps what it had);
a call Telegram refuses is logged at WARNING, without any id, and the gateway goes on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    MenuButtonCommands,
)
from telegram.error import TelegramError

from bot.core.content import ContentError, Library, load_yaml
from bot.core.languages import ANSWER_LANGS, DEFAULT_LANG
from bot.core.settings import Settings

log = logging.getLogger(__name__)

FILE = "commands.yml"  # in content/
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120
MAX_COMMAND_DESCRIPTION = 256
MAX_COMMANDS = 100  # per list (scope and language)
LISTS = ("user", "staff", "admin")
TEXTS = {"description": MAX_DESCRIPTION, "short_description": MAX_SHORT_DESCRIPTION}
LANGUAGE_CODES: tuple[str | None, ...] = (None, *ANSWER_LANGS)  # None: Telegram's default, in French


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Menu:
    """content/commands.yml, checked: texts per language, commands per list in menu order."""

    description: Mapping[str, str]
    short_description: Mapping[str, str]
    commands: Mapping[str, tuple[tuple[str, Mapping[str, str]], ...]] = field(default_factory=dict)

    def bot_commands(self, lists: tuple[str, ...], lang: str | None) -> list[BotCommand]:
        text_lang = lang or DEFAULT_LANG
        return [BotCommand(name, texts[text_lang]) for key in lists for name, texts in self.commands.get(key, ())]


# -- reading and checking (pure) ------------------------------------------------------------
def read_menu(library: Library) -> Any:
    """The raw YAML of content/commands.yml, {operator} and {retention_days} filled per language."""
    raw = load_yaml(library.content_dir / FILE)

    def fill(value: Any, lang: str) -> Any:
        return library.fill(value, lang) if isinstance(value, str) and "{" in value else value

    def walk(node: Any, lang: str | None = None) -> Any:
        if isinstance(node, Mapping):
            return {k: walk(v, str(k) if str(k) in ANSWER_LANGS else lang) for k, v in node.items()}
        return fill(node, lang) if lang else node

    return walk(raw)


def _check_texts(where: str, texts: Any, limit: int) -> list[str]:
    if not isinstance(texts, Mapping):
        return [f"{where}: expected one text per language ({', '.join(ANSWER_LANGS)})"]
    problems = []
    for lang in ANSWER_LANGS:
        text = texts.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: no {lang} text")
            continue
        if telegram_length(text.strip()) > limit:
            problems.append(f"{where} ({lang}): {telegram_length(text.strip())} characters, Telegram allows {limit}")
    return problems


def _check_list(key: str, items: Any, known: Collection[str] | None) -> list[str]:
    where = f"commands.{key}"
    if not isinstance(items, Mapping) or not items:
        return [f"{where}: expected commands, each with its description per language"]
    problems = []
    for name, texts in items.items():
        if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
            problems.append(f"{where}: command name {name!r} must be 1-32 characters among a-z, 0-9 and _")
        elif known is not None and name not in known:
            problems.append(f"{where}: /{name} is not a command the bot answers ({', '.join(sorted(known))})")
        problems += _check_texts(f"{where}.{name}", texts, MAX_COMMAND_DESCRIPTION)
    if len(items) > MAX_COMMANDS:
        problems.append(f"{where}: {len(items)} commands, Telegram allows {MAX_COMMANDS}")
    return problems


def check_menu(raw: Any, known: Mapping[str, Collection[str]] | None = None) -> list[str]:
    """Every problem of content/commands.yml (as read by `read_menu`), each a sentence; [] when
    Telegram will take it. `known`: per list, the commands the bot answers (others are reported)."""
    if not isinstance(raw, Mapping):
        return [f"{FILE}: expected description, short_description and commands"]
    problems = []
    for key, limit in TEXTS.items():
        problems += _check_texts(key, raw.get(key), limit)
    commands = raw.get("commands")
    if not isinstance(commands, Mapping):
        return [*problems, f"commands: expected the lists {', '.join(LISTS)}"]
    for key in LISTS:
        problems += _check_list(key, commands.get(key), (known or {}).get(key))
    problems += [f"commands: unknown list {k!r} (expected {', '.join(LISTS)})" for k in commands if k not in LISTS]
    admin_menu = [*(commands.get("user") or ()), *(commands.get("admin") or ())]
    if len(admin_menu) > MAX_COMMANDS:
        problems.append(f"commands: user and admin together make {len(admin_menu)}, Telegram allows {MAX_COMMANDS}")
    return problems


def parse_menu(raw: Mapping[str, Any]) -> Menu:
    """A Menu from a file `check_menu` found no problem in."""

    def texts(value: Mapping[str, Any]) -> dict[str, str]:
        return {lang: str(value[lang]).strip() for lang in ANSWER_LANGS}

    return Menu(
        description=texts(raw["description"]),
        short_description=texts(raw["short_description"]),
        commands={key: tuple((str(n), texts(t)) for n, t in raw["commands"][key].items()) for key in LISTS},
    )


def load_menu(library: Library, known: Mapping[str, Collection[str]] | None = None) -> tuple[Menu | None, list[str]]:
    """The checked menu of `library`, or None with the problems."""
    try:
        raw = read_menu(library)
    except ContentError as exc:
        return None, [str(exc)]
    problems = check_menu(raw, known)
    return (None, problems) if problems else (parse_menu(raw), [])


# -- the calls ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """One Bot API call: its method, a label for the log (never an id) and how to make it."""

    method: str
    label: str
    send: Callable[[Bot], Awaitable[bool]]


def plan(menu: Menu, settings: Settings) -> list[Call]:
    """Every call that puts `menu` on Telegram for `settings` (hotline group, admins)."""
    scopes: list[tuple[str, BotCommandScope, tuple[str, ...]]] = [
        ("private chats", BotCommandScopeAllPrivateChats(), ("user",))
    ]
    if settings.hotline_chat_id:
        scopes.append(("the hotline group", BotCommandScopeChat(settings.hotline_chat_id), ("staff",)))
    admins = sorted(settings.admin_user_ids)
    for number, admin_id in enumerate(admins, 1):
        scopes.append((f"admin {number} of {len(admins)}", BotCommandScopeChat(admin_id), ("user", "admin")))
    calls = []
    for lang in LANGUAGE_CODES:
        in_lang = f"language {lang or 'default'}"
        for label, scope, lists in scopes:
            calls.append(Call("setMyCommands", f"{label}, {in_lang}", _commands(menu, lists, scope, lang)))
        calls.append(Call("setMyDescription", in_lang, _description(menu, lang)))
        calls.append(Call("setMyShortDescription", in_lang, _short_description(menu, lang)))
    calls.append(Call("setChatMenuButton", "default", _menu_button))
    return calls


def _commands(
    menu: Menu, lists: tuple[str, ...], scope: BotCommandScope, lang: str | None
) -> Callable[[Bot], Awaitable[bool]]:
    commands = menu.bot_commands(lists, lang)

    async def send(bot: Bot) -> bool:
        return await bot.set_my_commands(commands, scope=scope, language_code=lang)

    return send


def _description(menu: Menu, lang: str | None) -> Callable[[Bot], Awaitable[bool]]:
    text = menu.description[lang or DEFAULT_LANG]

    async def send(bot: Bot) -> bool:
        return await bot.set_my_description(text, language_code=lang)

    return send


def _short_description(menu: Menu, lang: str | None) -> Callable[[Bot], Awaitable[bool]]:
    text = menu.short_description[lang or DEFAULT_LANG]

    async def send(bot: Bot) -> bool:
        return await bot.set_my_short_description(text, language_code=lang)

    return send


async def _menu_button(bot: Bot) -> bool:
    """The "/" menu button in every private chat (Telegram's default for chats without their own)."""
    return await bot.set_chat_menu_button(menu_button=MenuButtonCommands())


_LONG_NUMBER = re.compile(r"-?\d{5,}")


def redact(text: str, ids: Collection[int]) -> str:
    """`text` without the chat ids it may name (`ids`, and any long number: a migrated group's
    error names its new id)."""
    for chat_id in sorted(ids, key=lambda i: -len(str(i))):
        text = text.replace(str(chat_id), "…")
    return _LONG_NUMBER.sub("…", text)


async def _send(bot: Bot, call: Call, ids: Collection[int]) -> bool:
    try:
        await call.send(bot)
    except TelegramError as exc:  # e.g. an admin who never opened the bot: "chat not found"
        reason = redact(str(exc), ids)
        log.warning("Telegram refused %s (%s): %s: %s", call.method, call.label, type(exc).__name__, reason)
        return False
    return True


async def publish_commands(
    bot: Bot,
    library: Library,
    settings: Settings,
    *,
    known: Mapping[str, Collection[str]] | None = None,
    timeout: float = 30.0,
) -> bool:
    """Put content/commands.yml on Telegram (see the module's docstring). Never raises: a file with
    problems, a refused call or a slow Telegram is logged and the gateway goes on. True when every
    call was accepted. `known`: per list, the commands the bot answers (default: staff and admin);
    `timeout`: seconds to wait for all the calls (they go together), then the gateway starts anyway."""
    from bot.gateway.admin import ADMIN_COMMANDS
    from bot.gateway.handoff import STAFF_ACTIONS

    try:
        menu, problems = load_menu(library, known or {"staff": STAFF_ACTIONS, "admin": ADMIN_COMMANDS})
        if menu is None:
            for problem in problems:
                log.warning("content/%s: %s", FILE, problem)
            log.warning("content/%s has %d problem(s): the Telegram menu is left as it was", FILE, len(problems))
            return False
        calls = plan(menu, settings)
        ids = {*settings.admin_user_ids, *([settings.hotline_chat_id] if settings.hotline_chat_id else [])}
        done = await asyncio.wait_for(asyncio.gather(*(_send(bot, call, ids) for call in calls)), timeout=timeout)
    except asyncio.TimeoutError:
        log.warning("Telegram menu: not every call answered within %.0f s; going on without them", timeout)
        return False
    except Exception as exc:  # noqa: BLE001 - the menu must never stop the gateway
        log.warning("Telegram menu not published: %s", type(exc).__name__)
        return False
    refused = len(done) - sum(done)
    log.info("Telegram menu published: %d call(s), %d refused", len(done), refused)
    return refused == 0
