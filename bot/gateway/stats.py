"""Statistics for admins: the anonymous daily figures, counted as each input is answered, and
the list of messages the model did not understand.

Counting: `Engine.process` opens a tally for the input (a context variable, so the engine,
the handoff service and whatever they call can `note()` what happened without passing it
around); the actions say what they answered in `count` directives the gateway never shows (the
FAQ topic answered, "not understood"), and an urgent handoff says urgent. When the input is
answered, the tally is written in one transaction to the daily table (`bot/storage/figures.py`):
no identifier, no text. A person is counted once a
day: when no earlier input of theirs arrived since Morocco's midnight (the inbox keeps inputs
for the retention period).

The "unanswered" list shows message texts with digits, e-mail addresses and @handles masked,
grouped and counted, without who sent them, so admins can turn frequent ones into FAQ questions.
It reads Rasa's tracker, so it only covers the retention period.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from bot.core.bodies import USER_INPUT_KINDS, Body
from bot.core.content import Library
from bot.gateway.chart import Labels, render_async
from bot.storage.figures import Figures, Summary, day_start_utc, summarise, today
from bot.storage.schema import inbox
from bot.storage.store import InboxItem, User, utcnow
from bot.storage.tracker_db import TrackerDB

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d[\d\s.\-]{2,}\d|\d+")
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_HANDLE = re.compile(r"@\w+")
COUNTED = frozenset({"topics", "not_understood"})  # what the actions' `count` directives may add


class Tally:
    """What one input did, to be added to the day's figures."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._once: set[str] = set()

    def add(self, metric: str, key: str = "", n: int = 1, *, once: bool = False) -> None:
        """Count `n` of `metric`/`key`; with `once`, only the first note of `metric` counts."""
        if once:
            if metric in self._once:
                return
            self._once.add(metric)
        self.counts[(metric, key)] += n


_TALLY: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("dalil_tally", default=None)


def note(metric: str, key: str = "", n: int = 1, *, once: bool = False) -> None:
    """Count something for the input being answered (nothing outside `Recorder.tally`)."""
    tally = _TALLY.get()
    if tally is not None:
        tally.add(metric, key, n, once=once)


def note_first_reply(opened_at: dt.datetime, now: dt.datetime | None = None) -> None:
    """The first staff reply of a handoff opened at `opened_at` (naive UTC)."""
    seconds = max(0, round(((now or utcnow()) - opened_at).total_seconds()))
    note("first_replies")
    note("first_reply_seconds", n=seconds)


class Recorder:
    """Counts each input into the daily figures (see the module's docstring)."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    @contextmanager
    def tally(self) -> Iterator[Tally]:
        tally = Tally()
        token = _TALLY.set(tally)
        try:
            yield tally
        finally:
            _TALLY.reset(token)

    def replies(self, messages: Sequence[dict[str, Any]]) -> None:
        """Rasa's messages for the input: what was answered. The actions say it in `count`
        directives (a topic answered, "not understood"); an urgent handoff counts as urgent."""
        if _TALLY.get() is None:
            return
        for message in messages:
            custom = message.get("custom")
            directive = custom.get("dalil") if isinstance(custom, dict) else None
            if not isinstance(directive, dict):
                continue
            if directive.get("op") == "handoff" and directive.get("urgent"):
                note("urgent", "request", once=True)
            elif directive.get("op") == "count" and directive.get("metric") in COUNTED:
                metric = str(directive["metric"])
                note(metric, str(directive.get("key") or ""), once=metric == "not_understood")

    async def save(self, tally: Tally, item: InboxItem, user: User, bodies: Sequence[Body]) -> None:
        """Add the input's tally to today's figures; a failure costs figures, never the answer."""
        counts = tally.counts
        person = item.kind in USER_INPUT_KINDS
        if person:
            counts[("messages", item.kind)] += 1
            lang = next((b.get("lang") for b in bodies if b.get("lang") and not b.get("chat_id")), None)
            if lang:
                counts[("languages", "ary" if lang == "ar" and user.darija else str(lang))] += 1
        if not counts and not person:
            return
        try:
            async with self.figures.engine.begin() as conn:
                if person and await _first_today(conn, item):
                    counts[("people", "")] += 1
                await self.figures.add_many(counts, conn=conn)
        except Exception as exc:  # noqa: BLE001 - figures must never stop an answer
            log.warning("daily figures not recorded: %s", type(exc).__name__)


async def _first_today(conn: Any, item: InboxItem) -> bool:
    """Whether no earlier input of this person arrived since Morocco's midnight."""
    query = (
        sa.select(inbox.c.id)
        .where(
            inbox.c.user_id == item.user_id,
            inbox.c.id < item.id,
            inbox.c.received_at >= day_start_utc(today()),
            inbox.c.kind.in_(USER_INPUT_KINDS),
        )
        .limit(1)
    )
    return (await conn.execute(query)).first() is None


TEXT_DAYS, CHART_DAYS = 7, 30  # /stats: the text covers a week, the chart a month
CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption (UTF-16 units)


async def stats_bodies(figures: Figures, library: Library, lang: str) -> list[Body]:
    """/stats: the chart (a photo) with the figures as its caption, or after it when too long;
    the text alone if the chart cannot be drawn."""
    until = today()
    rows = await figures.rows(until - dt.timedelta(days=CHART_DAYS - 1), until)
    week = summarise(rows, until - dt.timedelta(days=TEXT_DAYS - 1), until)
    text = stats_text(week, library, lang)
    try:
        png = await render_async(
            summarise(rows, until - dt.timedelta(days=CHART_DAYS - 1), until), labels(library, lang)
        )
    except Exception as exc:  # noqa: BLE001 - the figures still go out as text
        log.warning("stats chart not drawn: %s: %s", type(exc).__name__, exc)
        return [{"text": text, "lang": lang}]
    photo = base64.b64encode(png).decode("ascii")
    if len(text.encode("utf-16-le")) // 2 <= CAPTION_LIMIT:
        return [{"photo": photo, "text": text, "lang": lang}]
    caption = library.text("stats_caption", lang, days=CHART_DAYS)
    return [{"photo": photo, "text": caption, "lang": lang}, {"text": text, "lang": lang}]


def labels(library: Library, lang: str) -> Labels:
    """The chart's words; French for Arabic (matplotlib does not join Arabic letters)."""
    lang = "fr" if lang == "ar" else lang
    return Labels(
        title=library.text("stats_chart_title", lang, days=CHART_DAYS),
        messages=library.text("stats_chart_messages", lang),
        people=library.text("stats_chart_people", lang),
        topics=library.text("stats_chart_topics", lang),
        empty=library.text("stats_chart_empty", lang),
    )


def _listing(counts: Counter[str] | None, limit: int) -> str:
    return ", ".join(f"{key or '—'} ({n})" for key, n in (counts or Counter()).most_common(limit)) or "—"


def stats_text(summary: Summary, library: Library, lang: str) -> str:
    messages = summary.total("messages")
    languages = summary.keys.get("languages") or Counter()
    answered = max(1, sum(languages.values()))
    reasons = summary.keys.get("handoffs") or Counter()
    mean = summary.mean_first_reply_minutes()
    return library.text(
        "stats_text",
        lang,
        days=len(summary.days),
        messages=messages,
        people=summary.total("people"),
        languages=", ".join(f"{k} {100 * v / answered:.0f} %" for k, v in languages.most_common()) or "—",
        topics=_listing(summary.keys.get("topics"), 6),
        not_understood=summary.total("not_understood"),
        fallback=f"{100 * summary.total('not_understood') / max(1, messages):.0f}",
        urgent=summary.total("urgent"),
        handoffs=sum(reasons.values()),
        handoff_reasons="(" + ", ".join(f"{k} {n}" for k, n in reasons.most_common()) + ")" if reasons else "",
        first_reply="—" if mean is None else f"{mean:.0f}",
        campaigns=_listing(summary.keys.get("campaign"), 5),
        alerts=summary.total("alerts_sent"),
    )


def mask(text: str) -> str:
    """Hide what could identify someone: numbers, e-mail addresses, @handles."""
    text = _EMAIL.sub("[e-mail]", text)
    text = _HANDLE.sub("[@]", text)
    return _DIGITS.sub("#", text)


async def unanswered(
    tracker: TrackerDB, *, days: int = 7, limit: int = 15, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """The most frequent recent messages the model did not understand, masked and grouped."""
    since = (now or utcnow()) - dt.timedelta(days=days)
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for event in await tracker.user_events_since(since):
        if event["intent"] != "nlu_fallback":
            continue
        text = mask(" ".join(str(event["text"]).split()))[:160]
        key = text.casefold()
        if key:
            counts[key] += 1
            shown.setdefault(key, text)
    return [(shown[key], count) for key, count in counts.most_common(limit)]
