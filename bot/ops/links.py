"""`dalil links`: the Telegram deep link of every FAQ topic and every answer language, each with a
QR code for posters (a clinic's waiting room, a flyer).

`https://t.me/<bot>?start=t_<topic_id>` opens the chat on that topic, `?start=l_<code>` in that
language (the gateway reads the payload of /start). One line per link on stdout, the link then
what it opens (the topic's French title, so a clinic knows which poster is which), and a PNG per
link in the output folder: `t_hiv_testing.png`, `l_ar.png`. Telegram allows a payload of 1-64
characters among A-Z, a-z, 0-9, _ and -: a topic whose id does not fit is reported, not written.

The bot's username comes from `--bot`, else TELEGRAM_BOT_USERNAME, else Telegram's getMe with
TELEGRAM_BOT_TOKEN (TELEGRAM_API_URL).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx
import segno

from bot.core.content import Library
from bot.core.deeplinks import LANG_PREFIX, PAYLOAD, TOPIC_PREFIX
from bot.core.languages import ANSWER_LANGS
from bot.core.settings import Settings

USERNAME = re.compile(r"[A-Za-z0-9_]{5,32}")  # Telegram's rule for a username


class LinksError(Exception):
    """The links cannot be made (no bot username); the message says what to do."""


@dataclass(frozen=True)
class Link:
    payload: str  # t_hiv_testing, l_ar
    url: str
    label: str  # what the link opens: the topic's French title, or the language's name

    @property
    def filename(self) -> str:
        return f"{self.payload}.png"


def deep_link(username: str, payload: str) -> str:
    return f"https://t.me/{username}?start={payload}"


def make_links(library: Library, username: str) -> tuple[list[Link], list[str]]:
    """Every topic's link then every language's, and the problems (topic ids Telegram would refuse)."""
    found: list[Link] = []
    problems: list[str] = []
    for topic_id, topic in sorted(library.topics().items()):
        payload = TOPIC_PREFIX + topic_id
        if not PAYLOAD.fullmatch(payload):
            problems.append(
                f"topic {topic_id!r}: {payload!r} is not a Telegram deep-link payload "
                "(1-64 characters among A-Z, a-z, 0-9, _ and -): no link written; rename the topic"
            )
            continue
        found.append(Link(payload, deep_link(username, payload), topic.title.get("fr") or topic_id))
    for code in ANSWER_LANGS:
        payload = LANG_PREFIX + code
        name = library.text(f"language_name_{code}", code) if library.has_text(f"language_name_{code}") else code
        found.append(Link(payload, deep_link(username, payload), f"Langue : {name}"))
    return found, problems


def write_qr_codes(links: list[Link], out_dir: Path) -> list[Path]:
    """A QR code (PNG, error correction M) for each link, named after its payload."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for link in links:
        path = out_dir / link.filename
        segno.make(link.url, error="m").save(str(path), scale=10, border=4)
        written.append(path)
    return written


def normalise_username(value: str) -> str:
    """`@DalilBot`, `t.me/DalilBot` or `DalilBot` -> `DalilBot`; LinksError when it is not a username."""
    name = value.strip().removeprefix("https://").removeprefix("http://").removeprefix("t.me/").lstrip("@")
    if not USERNAME.fullmatch(name):
        raise LinksError(f"{value!r} is not a Telegram username (5-32 characters among A-Z, a-z, 0-9 and _)")
    return name


def bot_username(
    explicit: str | None, env: Mapping[str, str], settings: Settings, client: httpx.Client | None = None
) -> str:
    """--bot, else TELEGRAM_BOT_USERNAME, else getMe with the token; LinksError when none works."""
    if explicit:
        return normalise_username(explicit)
    if env.get("TELEGRAM_BOT_USERNAME"):
        return normalise_username(env["TELEGRAM_BOT_USERNAME"])
    token = settings.telegram_bot_token
    if not token:
        raise LinksError(
            "no bot username: pass --bot USERNAME, or set TELEGRAM_BOT_USERNAME, or TELEGRAM_BOT_TOKEN to ask Telegram"
        )
    base = settings.telegram_api_url
    url = (base.replace("{token}", token) if "{token}" in base else base + token) + "/getMe"
    try:
        if client is None:
            with httpx.Client(timeout=10.0) as own:
                response = own.get(url)
        else:
            response = client.get(url)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:  # never print the URL: it holds the token
        raise LinksError(f"could not ask Telegram for the bot's username ({type(exc).__name__}); pass --bot") from exc
    if not isinstance(body, dict) or not body.get("ok"):
        reason = body.get("description") if isinstance(body, dict) else None
        raise LinksError(f"Telegram refused getMe ({reason or response.status_code}); check TELEGRAM_BOT_TOKEN")
    return normalise_username(str((body.get("result") or {}).get("username") or ""))


def run(
    settings: Settings,
    *,
    bot: str | None = None,
    out: Path | None = None,
    env: Mapping[str, str] | None = None,
    library: Library | None = None,
    client: httpx.Client | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
) -> int:
    """`dalil links`: print the links, write the QR codes. 0: all written; 1: some topic
    reported; 2: no username."""
    try:
        username = bot_username(bot, os.environ if env is None else env, settings, client)
    except LinksError as exc:
        print(f"dalil links: {exc}", file=stderr)
        return 2
    links, problems = make_links(library or Library(settings.root), username)
    out_dir = out or settings.var_dir / "links"
    write_qr_codes(links, out_dir)
    for link in links:
        print(f"{link.url}\t{link.label}", file=stdout)
    for problem in problems:
        print(f"not written: {problem}", file=stderr)
    print(f"{len(links)} QR code(s) in {out_dir}", file=stderr)
    return 1 if problems else 0
