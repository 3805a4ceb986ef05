"""Broadcasts by admins to the subscribers of a city or a topic: /broadcast in Telegram, and the same
steps for `dalil broadcast` (bot/ops/alerts_cli.py).

    /broadcast tanger santé
    fr: Distribution de kits d'hygiène samedi à 10 h au local de l'association.
    ar: ...
    en: ...

The first line names a city, a topic or both (bot/events vocabulary). Each person gets the text of
their language, else the French one (else the first given), with a line saying who sends it and how to
stop. Nothing leaves before an explicit confirmation: the answer is a preview in each language with
its number of recipients, then "Send to N people" / "Cancel". Sent during quiet hours, a broadcast is
held (status `scheduled`) and leaves with the first alerts round after them. Messages go through the
durable outbox with the origin "broadcast:<id>", spaced like alerts; `/broadcast status` counts them
(sent, failed, blocked, waiting). Every broadcast sent, held or cancelled is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.bodies import Body, Button
from bot.core.content import Library
from bot.core.settings import Settings
from bot.events.model import CASABLANCA
from bot.events.query import Vocabulary, vocabulary
from bot.events.service import morocco_now
from bot.gateway.alerts import AlertRules, alert_rules, where
from bot.storage.alerts import BROADCAST_PREFIX, AlertStore, Broadcast, Delivery, Recipient
from bot.storage.audit import Audit
from bot.storage.store import Store, User

log = logging.getLogger(__name__)

LANGS = ("fr", "ar", "en")
MAX_TEXT = 3500  # Telegram's 4096, less the footer and the bidi marks
_MARKER = re.compile(r"(?<![^\s])(fr|ar|en)\s*:\s*", re.IGNORECASE)
_LINE_MARKER = re.compile(r"(?m)^[ \t]*(fr|ar|en)[ \t]*:[ \t]*", re.IGNORECASE)


@dataclass(frozen=True)
class Draft:
    city: str  # "" for every city (then a topic is needed)
    topic: str  # "" for every topic
    texts: dict[str, str]


@dataclass(frozen=True)
class Problem:
    """Why a broadcast cannot be prepared: a messages key and its values."""

    key: str
    values: dict[str, Any]


def parse(args: str, vocab: Vocabulary) -> Draft | Problem:
    """ "tanger santé\\nfr: …\\nar: …" -> a Draft, or what is wrong with it."""
    first = _MARKER.search(args)
    target = (args[: first.start()] if first else args).strip()
    texts: dict[str, str] = {}
    if first is not None:
        parts = _LINE_MARKER.split(args[first.start() :].lstrip())
        for lang, text in zip(parts[1::2], parts[2::2], strict=False):
            if text.strip():
                texts[lang.lower()] = text.strip()
    return draft(target, texts, vocab)


def draft(target: str, texts: dict[str, str], vocab: Vocabulary, topic_text: str | None = None) -> Draft | Problem:
    """A Draft from a target ("tanger", "santé", "tanger santé"; or a city and `topic_text` apart)
    and texts, or what is wrong."""
    city = (vocab.city(target) or "") if target.strip() else ""
    topic = vocab.topic(target if topic_text is None else topic_text) or ""
    if not (city or topic):
        shown = " ".join(t for t in (target.strip(), (topic_text or "").strip()) if t)
        return Problem("broadcast_unknown_target", {"target": shown or "—"})
    texts = {lang: text.strip() for lang, text in texts.items() if lang in LANGS and text and text.strip()}
    if not texts:
        return Problem("broadcast_no_text", {})
    for lang, text in texts.items():
        if len(text) > MAX_TEXT:
            return Problem("broadcast_too_long", {"language": lang, "count": len(text), "limit": MAX_TEXT})
    return Draft(city, topic, texts)


def text_language(texts: dict[str, str], lang: str) -> str:
    """Which text a reader of `lang` gets: theirs, else French, else the first given."""
    if lang in texts:
        return lang
    return "fr" if "fr" in texts else next(iter(texts))


@dataclass(frozen=True)
class Prepared:
    """A draft saved, with who it reaches: recipients per text language, and how many of them
    get a text that is not in their language."""

    id: int
    draft: Draft
    recipients: list[Recipient]
    per_lang: Counter[str]
    fallback: Counter[str]


class Broadcasts:
    """Preview, confirm, send and count admins' broadcasts."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        library: Library,
        *,
        kick: Callable[[str], None] | None = None,
        clock: Callable[[], dt.datetime] = morocco_now,
    ) -> None:
        self.settings = settings
        self.store = store
        self.alerts = AlertStore(store.engine)
        self.audit = Audit(store.engine)
        self.library = library
        self.kick = kick
        self.clock = clock

    @property
    def rules(self) -> AlertRules:
        return alert_rules(self.settings.alerts_quiet_hours)

    def target(self, city: str, topic: str, lang: str, darija: bool = False) -> str:
        """ "à Tanger (santé)", or "sur « santé »" for a topic in every city."""
        vocab = vocabulary()
        if city:
            return where(self.library, vocab, city, topic, lang, darija)
        return self.library.text("broadcast_where_topic", lang, darija, topic=vocab.topic_name(topic, lang))

    def body(self, broadcast: Draft | Broadcast, recipient: Recipient) -> Body:
        """What one person receives."""
        lang = text_language(broadcast.texts, recipient.lang)
        darija = recipient.darija and lang == "ar"
        there = self.target(broadcast.city, broadcast.topic, lang, darija)
        footer = self.library.text("broadcast_footer", lang, darija, where=there)
        return {"text": f"{broadcast.texts[lang]}\n\n{footer}", "lang": lang}

    # -- steps shared with the command line -------------------------------------------------
    async def prepare(self, draft: Draft, actor: str) -> Prepared:
        broadcast_id = await self.alerts.broadcast_create(actor, draft.city, draft.topic, draft.texts)
        recipients = await self.alerts.audience(draft.city, draft.topic)
        per_lang: Counter[str] = Counter()
        fallback: Counter[str] = Counter()
        for recipient in recipients:
            lang = text_language(draft.texts, recipient.lang)
            per_lang[lang] += 1
            if lang != recipient.lang:
                fallback[lang] += 1
        return Prepared(broadcast_id, draft, recipients, per_lang, fallback)

    def previews(self, prepared: Prepared, lang: str) -> list[str]:
        """One preview per text: a heading (language, recipients), then the message as it will read."""
        out: list[str] = []
        for text_lang in prepared.draft.texts:
            count = prepared.per_lang.get(text_lang, 0)
            extra = prepared.fallback.get(text_lang, 0)
            fallback = " " + self.library.text("broadcast_fallback", lang, count=extra) if extra else ""
            name = self.library.text(f"language_name_{text_lang}", text_lang)
            head = self.library.text("broadcast_preview", lang, language=name, count=count, fallback=fallback)
            sample = self.body(prepared.draft, Recipient("", 0, text_lang, False))
            out.append(f"{head}\n\n{sample['text']}")
        return out

    async def confirm(self, broadcast_id: int, actor: str) -> tuple[str, int, dt.datetime | None]:
        """Send now, or hold until the quiet hours end: ("sent" | "scheduled" | status, count, when)."""
        now = self.clock()
        if self.rules.is_quiet(now):
            if not await self.alerts.broadcast_status(broadcast_id, "scheduled", only_from=("draft",)):
                return await self._dealt_with(broadcast_id)
            held = await self.alerts.broadcast_get(broadcast_id)
            count = len(await self.alerts.audience(held.city, held.topic)) if held else 0
            await self._record(actor, broadcast_id, f"held for the morning, {count} recipient(s) now", "scheduled")
            return "scheduled", count, self.rules.quiet_ends(now)
        sent = await self.send(broadcast_id, actor)
        return ("sent", sent, None) if sent is not None else await self._dealt_with(broadcast_id)

    async def _dealt_with(self, broadcast_id: int) -> tuple[str, int, dt.datetime | None]:
        found = await self.alerts.broadcast_get(broadcast_id)
        return (found.status if found else "cancelled"), (found.recipients if found else 0), None

    async def cancel(self, broadcast_id: int, actor: str) -> bool:
        if not await self.alerts.broadcast_status(broadcast_id, "cancelled", only_from=("draft", "scheduled")):
            return False
        await self._record(actor, broadcast_id, "cancelled", "cancelled")
        return True

    async def send(self, broadcast_id: int, actor: str = "") -> int | None:
        """Queue the broadcast for its subscribers now; None when it was not waiting to go."""
        found = await self.alerts.broadcast_get(broadcast_id)
        if found is None or found.status not in ("draft", "scheduled"):
            return None
        recipients = await self.alerts.audience(found.city, found.topic)
        deliveries = [Delivery(r.user_id, r.chat_id, self.body(found, r)) for r in recipients]
        if not await self.alerts.deliver(
            deliveries,
            origin=f"{BROADCAST_PREFIX}{broadcast_id}",
            per_second=self.rules.per_second,
            broadcast=broadcast_id,
        ):
            return None
        if self.kick is not None:
            for item in deliveries:
                self.kick(item.user_id)
        detail = f"to {len(deliveries)} subscriber(s) of {found.city or '*'}/{found.topic or '*'}"
        await self._record(actor or found.actor, broadcast_id, detail, "ok")
        log.info("broadcast %s queued for %d person(s)", broadcast_id, len(deliveries))
        return len(deliveries)

    async def send_scheduled(self) -> None:
        """The broadcasts held for the night (called by the alerts poller outside quiet hours)."""
        for held in await self.alerts.broadcasts(status="scheduled", limit=20):
            await self.send(held.id)

    async def _record(self, actor: str, broadcast_id: int, detail: str, result: str) -> None:
        try:
            await self.audit.record(actor, "broadcast", f"#{broadcast_id} {detail}", result)
        except Exception as exc:  # the audit must not stop a broadcast
            log.warning("audit row not written (broadcast): %s", type(exc).__name__)

    async def status_lines(self, lang: str) -> list[str]:
        """The newest broadcasts with their delivery figures."""
        lines: list[str] = []
        for item in await self.alerts.broadcasts(limit=5):
            counts = await self.alerts.delivery(item.id)
            failed = counts.get("failed", 0)
            lines.append(
                self.library.text(
                    "broadcast_status_line",
                    lang,
                    id=item.id,
                    where=self.target(item.city, item.topic, lang),
                    status=item.status,
                    sent=counts.get("sent", 0),
                    failed=max(0, failed - item.blocked),
                    blocked=min(item.blocked, failed),
                    pending=counts.get("pending", 0),
                    recipients=item.recipients,
                )
            )
        return lines

    # -- Telegram ---------------------------------------------------------------------------
    async def command(self, user: User, args: str, lang: str, actor: str) -> list[Body]:
        """/broadcast (usage), /broadcast status, or /broadcast <target> with its texts (a preview)."""
        if not args.strip():
            return [{"text": self.library.text("broadcast_usage", lang), "lang": lang}]
        if args.strip().lower() == "status":
            lines = await self.status_lines(lang)
            return [{"text": "\n".join(lines) or self.library.text("broadcast_status_none", lang), "lang": lang}]
        parsed = parse(args, vocabulary())
        if isinstance(parsed, Problem):
            text = self.library.text(parsed.key, lang, **parsed.values)
            return [{"text": f"{text}\n\n{self.library.text('broadcast_usage', lang)}", "lang": lang}]
        prepared = await self.prepare(parsed, actor)
        there = self.target(parsed.city, parsed.topic, lang)
        count = len(prepared.recipients)
        if not count:
            await self.alerts.broadcast_status(prepared.id, "cancelled", only_from=("draft",))
            return [{"text": self.library.text("broadcast_nobody", lang, where=there), "lang": lang}]
        bodies: list[Body] = [{"text": text, "lang": lang} for text in self.previews(prepared, lang)]
        go = await self.store.callback_add(user.id, {"t": "bcast", "id": prepared.id, "go": True, "actor": actor})
        stop = await self.store.callback_add(user.id, {"t": "bcast", "id": prepared.id, "go": False, "actor": actor})
        buttons: list[list[Button]] = [
            [{"text": self.library.text("broadcast_send_button", lang, count=count), "token": go}],
            [{"text": self.library.text("broadcast_cancel_button", lang), "token": stop}],
        ]
        confirm = self.library.text("broadcast_confirm", lang, count=count, where=there)
        return [*bodies, {"text": confirm, "buttons": buttons, "lang": lang}]

    async def button(self, user: User, data: dict[str, Any], lang: str) -> list[Body]:
        """ "Send to N people" or "Cancel" under a preview (only the admin who asked has the buttons)."""
        broadcast_id = int(data.get("id") or 0)
        actor = str(data.get("actor") or f"tg:{user.chat_id}")
        if not data.get("go"):
            done = await self.cancel(broadcast_id, actor)
            key = "broadcast_cancelled" if done else "broadcast_already"
            found = await self.alerts.broadcast_get(broadcast_id)
            return [{"text": self.library.text(key, lang, status=found.status if found else "—"), "lang": lang}]
        outcome, count, when = await self.confirm(broadcast_id, actor)
        if outcome == "sent":
            text = self.library.text("broadcast_queued", lang, id=broadcast_id, count=count)
        elif outcome == "scheduled" and when is not None:
            time = when.astimezone(CASABLANCA).strftime("%H:%M")
            text = self.library.text("broadcast_scheduled", lang, id=broadcast_id, time=time)
        else:
            text = self.library.text("broadcast_already", lang, status=outcome)
        return [{"text": text, "lang": lang}]
