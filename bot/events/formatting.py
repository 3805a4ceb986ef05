"""Writing an events answer in French, Arabic or English, every sentence from content/events_texts.yml.

Owns the layout of a `Listing`: a heading naming what was asked, the notes (demonstration
examples, list not updated since …), then the events sorted by start, at most `PER_PAGE` per page
joined with PAGE_BREAK (the gateway shows a "more" button). Dates and times are written by Babel
in the language's locale (Arabic month names, 24-hour times, Morocco's time zone). In Arabic, runs
of Latin letters and digits (times, phone numbers, French names) are wrapped in LEFT-TO-RIGHT
MARKs so they read in the right order. When nothing matches, the nearest alternative is offered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from bot.core.content import PAGE_BREAK, FileCache, load_yaml
from bot.core.languages import answer_lang
from bot.core.settings import PROJECT_ROOT
from bot.events.model import CASABLANCA, Event, Listing, Query
from bot.events.query import Vocabulary, vocabulary

PER_PAGE = 3
MAX_PAGES = 4
LRM = "\u200e"
# A run of Latin letters/digits with the punctuation that sits inside times, phones and addresses.
_LTR_RUN = re.compile(
    r"[+/(]?[0-9A-Za-z\u00c0-\u024f](?:[0-9A-Za-z\u00c0-\u024f .,:;/@&'’()+_#–\-]*[0-9A-Za-z\u00c0-\u024f)])?"
)


class EventsTexts:
    """The sentences of content/events_texts.yml: `get(key, lang, **values)` (falls back to French)."""

    def __init__(self, path: Path) -> None:
        raw = load_yaml(path) or {}
        self._texts: dict[str, dict[str, str]] = {
            str(k): {str(lang): str(text) for lang, text in (v or {}).items()} for k, v in raw.items()
        }

    def get(self, key: str, lang: str, **values: Any) -> str:
        """The text `key` in `lang` (else `all`, else French) with its {placeholders} filled."""
        entry = self._texts.get(key)
        if not entry:
            raise KeyError(f"content/events_texts.yml has no text {key!r}")
        template = entry.get(lang) or entry.get("all") or entry.get("fr") or next(iter(entry.values()))
        return template.format(**values) if values else template

    def has(self, key: str) -> bool:
        """Whether the file has a text `key`."""
        return key in self._texts


_texts: FileCache[EventsTexts] = FileCache()


def events_texts(path: Path | None = None) -> EventsTexts:
    """The project's events texts, re-read when the file changes on disk."""
    path = path or PROJECT_ROOT / "content" / "events_texts.yml"
    return _texts.get([path], lambda: EventsTexts(path))


def ltr_runs(text: str, lang: str) -> str:
    """In Arabic, wrap each Latin/digit run ("10:00–12:00", "+212 5 37…", "ALCS") in LRM marks.

    LEFT-TO-RIGHT MARKs rather than isolates: older Android phones draw isolates as boxes.
    """
    if lang != "ar" or not text:
        return text
    # A number alone needs no mark: digits keep their order inside Arabic text.
    return _LTR_RUN.sub(lambda m: m.group(0) if m.group(0).isdigit() else f"{LRM}{m.group(0)}{LRM}", text)


class Formatter:
    """Turns a Listing into the answer text of one language."""

    def __init__(self, lang: str, texts: EventsTexts | None = None, vocab: Vocabulary | None = None) -> None:
        self.lang: str = answer_lang(lang)
        self.texts = texts or events_texts()
        self.vocab = vocab or vocabulary()
        self.locale = self.texts.get("locale", self.lang)

    def t(self, key: str, **values: Any) -> str:
        """The text `key` in this formatter's language."""
        return self.texts.get(key, self.lang, **values)

    # -- dates ------------------------------------------------------------------------------------
    def date(self, when: dt.datetime | dt.date, now: dt.datetime | None = None, *, short: bool = False) -> str:
        """A day in words ("jeudi 10 décembre"; with the year when it is not this year's)."""
        day = when.astimezone(CASABLANCA).date() if isinstance(when, dt.datetime) else when
        if short:
            pattern = self.t("short_date_format")
        elif now is not None and day.year != now.astimezone(CASABLANCA).year:
            pattern = self.t("date_format_other_year")
        else:
            pattern = self.t("date_format")
        return format_date(day, pattern, locale=self.locale)

    def time(self, when: dt.datetime) -> str:
        """A 24-hour time in Morocco's time zone."""
        return ltr_runs(format_time(when.astimezone(CASABLANCA), self.t("time_format"), locale=self.locale), self.lang)

    def when(self, event: Event, now: dt.datetime) -> str:
        """The date line of an event: one day with times, all day, several days."""
        start, end = event.start.astimezone(CASABLANCA), event.end.astimezone(CASABLANCA)
        if event.all_day:
            last = (end - dt.timedelta(days=1)).date() if end > start else start.date()
            if last <= start.date():
                return self.t("event_when_all_day", date=self.date(start, now))
            return self.t("event_when_days", start=self.date(start, now), end=self.date(last, now))
        if end <= start:
            return self.t("event_when_start", date=self.date(start, now), start=self.time(start))
        if end.date() == start.date():
            return self.t("event_when_times", date=self.date(start, now), start=self.time(start), end=self.time(end))
        return self.t(
            "event_when_span",
            start_date=self.date(start, now),
            start=self.time(start),
            end_date=self.date(end, now),
            end=self.time(end),
        )

    # -- pieces -----------------------------------------------------------------------------------
    def join(self, items: Iterable[str]) -> str:
        """Items joined as "a, b et c" in the formatter's language."""
        items = list(items)
        if len(items) <= 1:
            return "".join(items)
        return self.t("list_separator").join(items[:-1]) + self.t("list_last") + items[-1]

    def language_name(self, code: str) -> str:
        """The name of a language code in the formatter's language (Babel, or the texts file)."""
        key = f"language_{code}"
        if self.texts.has(key):
            return self.t(key)
        try:
            return Locale.parse(self.locale).languages.get(code) or code
        except (UnknownLocaleError, ValueError):
            return code

    def filters(self, query: Query, now: dt.datetime, *, period: bool = True) -> dict[str, str]:
        """The {city}, {topic} and {period} fragments that describe what was asked."""
        city = self.t("filter_city", city=self.vocab.city_name(query.city, self.lang)) if query.city else ""
        topic = self.t("filter_topic", topic=self.vocab.topic_name(query.topic, self.lang)) if query.topic else ""
        when = ""
        if period and query.start is not None and query.end is not None:
            last = (query.end - dt.timedelta(days=1)).astimezone(CASABLANCA)
            start = query.start.astimezone(CASABLANCA)
            if last.date() <= start.date():
                when = self.t("filter_day", date=self.date(start, now))
            else:
                when = self.t(
                    "filter_days", start=self.date(start, now, short=True), end=self.date(last, now, short=True)
                )
        return {"city": city, "topic": topic, "period": when}

    def place(self, event: Event) -> str | None:
        """Venue, address and town (the town added when the others do not name it)."""
        parts = [p for p in (event.venue, event.address) if p]
        if event.city:
            name = self.vocab.city_name(event.city, self.lang)
            if not any(self.vocab.city(p) == event.city for p in parts):
                parts.append(name)
        return self.t("list_separator").join(parts) or None

    def event(self, event: Event, now: dt.datetime) -> str:
        """One event as a short block of lines."""
        lines = [self.t("event_title", title=ltr_runs(event.title(self.lang), self.lang)), self.when(event, now)]
        place = self.place(event)
        if place:
            lines.append(self.t("event_place", place=ltr_runs(place, self.lang)))
        if event.organiser:
            lines.append(self.t("event_organiser", organiser=ltr_runs(event.organiser, self.lang)))
        audience = _pick(event.audience, self.lang)
        if audience:
            lines.append(self.t("event_audience", audience=ltr_runs(audience, self.lang)))
        if event.languages:
            lines.append(self.t("event_languages", languages=self.join(self.language_name(c) for c in event.languages)))
        if event.price == "free":
            lines.append(self.t("event_free"))
        elif event.price:
            lines.append(self.t("event_price", price=ltr_runs(event.price, self.lang)))
        if event.registration:
            lines.append(self.t("event_registration", contact=ltr_runs(event.registration, self.lang)))
        if event.url:
            lines.append(self.t("event_url", url=ltr_runs(event.url, self.lang)))
        if event.sample:
            # An invented demonstration event says so on every line a person may read alone.
            label = self.t("sample_label")
            lines = [f"{label} {lines[0]}", *(f"{label} {line}" for line in lines[1:])]
        return "\n".join(lines)

    def notes(self, listing: Listing, shown: Iterable[Event]) -> list[str]:
        """The demonstration-examples and last-updated notes, when they apply."""
        notes: list[str] = []
        if any(e.sample for e in shown):
            notes.append(self.t("sample_note"))
        if listing.stale_sources:
            oldest = min(listing.stale_sources.values())
            notes.append(self.t("stale_note", date=self.date(oldest, listing.now), time=self.time(oldest)))
        return notes

    # -- the answer -------------------------------------------------------------------------------
    def listing(self, listing: Listing) -> str:
        """The whole answer: pages of at most PER_PAGE events joined with PAGE_BREAK."""
        if not listing.available:
            return self.t("unavailable")
        if not listing.events:
            return self._nothing_matches(listing)
        events = list(listing.events)
        shown = events[: PER_PAGE * MAX_PAGES]
        first = [self.t("heading", **self.filters(listing.query, listing.now)), *self.notes(listing, shown)]
        pages: list[list[str]] = []
        for start in range(0, len(shown), PER_PAGE):
            pages.append([self.event(e, listing.now) for e in shown[start : start + PER_PAGE]])
        pages[0] = ["\n".join(first), *pages[0]]
        if len(events) > len(shown):
            pages[-1].append(self.t("more_events", count=len(events) - len(shown)))
        return PAGE_BREAK.join("\n\n".join(page) for page in pages)

    def _nothing_matches(self, listing: Listing) -> str:
        query, now = listing.query, listing.now
        alternative = listing.alternative
        if alternative is None:
            return "\n\n".join([self.t("nothing_planned"), *self.notes(listing, ())])
        head = [self.t("none_found", **self.filters(query, now))]
        if alternative.kind == "later":
            head.append(self.t("alternative_later", city=self.filters(query, now)["city"]))
        elif alternative.kind == "other_cities":
            names = [self.vocab.city_name(c, self.lang) for c in alternative.cities]
            head.append(self.t("alternative_other_cities", cities=self.join(names)))
        else:
            head.append(self.t("alternative_next"))
        notes = self.notes(listing, alternative.events)
        first = "\n\n".join(["\n".join(head[:1] + notes), head[1]])
        pages = [[first, *(self.event(e, now) for e in alternative.events[:PER_PAGE])]]
        return PAGE_BREAK.join("\n\n".join(page) for page in pages)


def _pick(mapping: Mapping[str, str], lang: str) -> str | None:
    return mapping.get(lang) or mapping.get("fr") or next(iter(mapping.values()), None)


def format_listing(
    listing: Listing, lang: str, *, texts: EventsTexts | None = None, vocab: Vocabulary | None = None
) -> str:
    """The answer to show for `listing` in `lang` (fr, ar or en)."""
    return Formatter(lang, texts, vocab).listing(listing)
