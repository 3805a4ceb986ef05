"""`dalil broadcast`: an admin's message to the subscribers of a city or a topic, from the command line.

dalil broadcast --city tanger [--topic hiv] --fr "…" [--ar "…"] [--en "…"] [--yes] [--wait SECONDS]
dalil broadcast --status

The same steps as /broadcast in Telegram (bot/gateway/broadcast.py): a preview of each language with
its number of recipients, then an explicit confirmation (typed "yes", or --yes). The messages are
written to the durable outbox; the running gateway sends them within Telegram's limits (during quiet
hours the broadcast is held and leaves after them). --wait prints the delivery figures once nothing
is waiting any more. The audit log names the local user (`cli:<login>`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from bot.core.settings import Settings
    from bot.gateway.broadcast import Broadcasts

LANG = "en"  # what the operator reads (the previews show each text as people will read it)


def register(sub: Any) -> None:
    """Add `dalil broadcast` to the command line's subcommands."""
    parser = sub.add_parser(
        "broadcast",
        help="write to the subscribers of a city or topic (preview, then confirm)",
        description="Queue a message for the people subscribed to event alerts of a city (and topic), "
        "after a preview of each language with its number of recipients. People whose language has no "
        "text get the French one. The running gateway sends it; nothing leaves during quiet hours.",
    )
    parser.add_argument("--city", default="", help="a city of content/cities.yml (any spelling)")
    parser.add_argument("--topic", default="", help="an event topic of content/event_topics.yml (any spelling)")
    for lang, name in (("fr", "French"), ("ar", "Arabic"), ("en", "English")):
        parser.add_argument(f"--{lang}", default="", help=f"the text in {name}")
    parser.add_argument("--yes", action="store_true", help="send without asking")
    parser.add_argument("--wait", type=float, default=0.0, help="wait up to SECONDS and print the delivery figures")
    parser.add_argument("--status", action="store_true", help="the last broadcasts and their delivery figures")
    parser.set_defaults(func=cmd_broadcast)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (some containers)
        return "cli:unknown"


def cmd_broadcast(args: argparse.Namespace) -> int:
    from bot.core.settings import Settings
    from bot.storage.db import migrate

    settings = Settings.from_env()
    migrate(settings.database_url)
    return asyncio.run(broadcast(settings, args, sys.stdin, sys.stdout))


async def broadcast(settings: Settings, args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    from bot.core.content import library
    from bot.gateway.broadcast import Broadcasts
    from bot.storage.db import create_engine
    from bot.storage.store import Store

    store = Store(create_engine(settings.database_url))
    try:
        desk = Broadcasts(settings, store, library())
        if args.status:
            print("\n".join(await desk.status_lines(LANG)) or "No broadcast yet.", file=out)
            return 0
        return await _send(desk, args, stdin, out)
    finally:
        await store.close()


async def _send(desk: Broadcasts, args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    from bot.events.query import vocabulary
    from bot.gateway.broadcast import Problem, draft

    texts = {lang: str(getattr(args, lang) or "") for lang in ("fr", "ar", "en")}
    made = draft(args.city or "", texts, vocabulary(), topic_text=args.topic or "")
    if isinstance(made, Problem):
        print(desk.library.text(made.key, LANG, **made.values), file=out)
        return 2
    who = actor()
    prepared = await desk.prepare(made, who)
    there = desk.target(made.city, made.topic, LANG)
    count = len(prepared.recipients)
    if not count:
        await desk.alerts.broadcast_status(prepared.id, "cancelled", only_from=("draft",))
        print(desk.library.text("broadcast_nobody", LANG, where=there), file=out)
        return 1
    for preview in desk.previews(prepared, LANG):
        print(preview + "\n", file=out)
    print(desk.library.text("broadcast_confirm", LANG, count=count, where=there), file=out)
    if not args.yes:
        print(f'Type "yes" to send to {count} person(s): ', end="", file=out, flush=True)
        if stdin.readline().strip().lower() not in ("yes", "y", "oui", "o"):
            await desk.cancel(prepared.id, who)
            print(desk.library.text("broadcast_cancelled", LANG), file=out)
            return 1
    outcome, sent, when = await desk.confirm(prepared.id, who)
    if outcome == "scheduled" and when is not None:
        print(desk.library.text("broadcast_scheduled", LANG, id=prepared.id, time=f"{when:%H:%M}"), file=out)
        return 0
    print(desk.library.text("broadcast_queued", LANG, id=prepared.id, count=sent), file=out)
    if args.wait > 0:
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:  # the gateway, another process, sends: look once a second
            if not (await desk.alerts.delivery(prepared.id)).get("pending", 0):
                break
            await asyncio.sleep(1.0)
        print("\n".join((await desk.status_lines(LANG))[:1]), file=out)
    return 0
