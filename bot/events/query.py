"""Understanding an events question: which city, which topic, which dates.

Owns the events vocabulary read from data (`content/cities.yml`, `content/event_topics.yml`,
`content/date_words.yml`) and turns a message in French, Arabic, Darija (both scripts) or English
into a `Query`. Cities, topics and period words ("cette semaine", "هاد السيمانة", "next week") are
matched with the spelling-tolerant `PhraseIndex`; precise dates ("le 24 mars", "24/3", "غدا
الخميس", "18 December") are read by the maintained `dateparser` library. A follow-up ("et à
Rabat ?", "w f rbat?") keeps what the previous question asked unless the new message changes it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# No stubs in the dev dependencies (types-dateparser, types-python-dateutil): with them installed
# this module type-checks unchanged and these three ignores can go.
from dateparser.date import DateDataParser  # type: ignore[import-untyped]
from dateparser.search import search_dates  # type: ignore[import-untyped]
from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]

from bot.core.content import FileCache, load_yaml
from bot.core.phrases import PhraseIndex, fold
from bot.core.settings import PROJECT_ROOT
from bot.core.textnorm import clean
from bot.events.model import CASABLANCA, Query

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIOD_KINDS = frozenset(
    {
        "today",
        "tomorrow",
        "day_after_tomorrow",
        "this_week",
        "next_week",
        "this_weekend",
        "next_weekend",
        "this_month",
        "next_month",
        "upcoming",
        *WEEKDAYS,
    }
)
# How far ahead a date read by dateparser may be: further is a misreading ("à 10h" -> year 2110).
MAX_AHEAD = dt.timedelta(days=550)
# How many words around a date-looking word are tried as one date ("يوم 15 أبريل" -> "15 أبريل").
WINDOW = 3
_EDGE_PUNCTUATION = '?!.,;:«»"()[]¿¡…'  # stripped from the ends of a word, never inside ("24/3")


@dataclass(frozen=True)
class Understood:
    """What one message says, before merging with the conversation so far."""

    city: str | None = None
    topic: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    any_city: bool = False  # "partout", "كل المدن": forget the city asked before
    any_date: bool = False  # "prochains", "القادمة", "upcoming": no date limit


class Vocabulary:
    """Cities, topics and period words from the content files, with their display names."""

    def __init__(self, content_dir: Path) -> None:
        cities = load_yaml(content_dir / "cities.yml") or {}
        topics = load_yaml(content_dir / "event_topics.yml") or {}
        dates = load_yaml(content_dir / "date_words.yml") or {}
        prefixes = tuple(str(p) for p in cities.get("arabic_prefixes") or ())

        self.city_names: dict[str, dict[str, str]] = {}
        city_phrases: dict[str, list[str]] = {}
        for city_id, entry in (cities.get("cities") or {}).items():
            names = {str(k): str(v) for k, v in (entry.get("name") or {}).items()}
            self.city_names[str(city_id)] = names
            # Display names are not matched by themselves: "الجديدة" alone is "the new".
            city_phrases[str(city_id)] = [str(city_id), *map(str, entry.get("aliases") or ())]
        self._cities = PhraseIndex(_with_prefixes(city_phrases, prefixes))
        self._city_exact = {fold(p) for phrases in city_phrases.values() for p in phrases}
        self._anywhere = PhraseIndex(_with_prefixes({"any": cities.get("anywhere") or []}, prefixes))

        self.topic_names: dict[str, dict[str, str]] = {}
        topic_phrases: dict[str, list[str]] = {}
        for topic_id, entry in topics.items():
            names = {str(k): str(v) for k, v in (entry.get("name") or {}).items()}
            if not str(topic_id).startswith("_"):
                self.topic_names[str(topic_id)] = names
            topic_phrases[str(topic_id)] = [str(topic_id), *names.values(), *map(str, entry.get("words") or ())]
        self._topics = PhraseIndex(_with_prefixes(topic_phrases, prefixes))

        periods = dates.get("periods") or {}
        unknown = set(periods) - PERIOD_KINDS
        if unknown:
            log.warning("date_words.yml: unknown period kinds %s", sorted(unknown))
        labelled = {k: v for k, v in periods.items() if k in PERIOD_KINDS}
        labelled["_not_a_period"] = dates.get("not_a_period") or []  # matched first, then dropped
        self._periods = PhraseIndex(_with_prefixes(labelled, prefixes))
        self._not_a_period = [fold(str(p)).split() for p in dates.get("not_a_period") or () if fold(str(p))]
        self._month_names = {clean(str(k)): str(v) for k, v in (dates.get("month_names") or {}).items()}

    def city(self, text: str) -> str | None:
        """The canonical id of the first city named in `text` (or given as an id)."""
        found = self._cities.labels(text)
        return found[0] if found else None

    def cities_in(self, text: str) -> list[str]:
        """Every city named in `text`, in order."""
        return self._cities.labels(text)

    def is_only_a_city(self, text: str) -> bool:
        """Whether `text` is nothing but a city's name ("Rabat", "Dar Bida")."""
        return fold(text) in self._city_exact

    def topic(self, text: str) -> str | None:
        """The first topic named in `text`; phrases that only look like one ("ورشة عمل") are skipped."""
        return next((t for t in self._topics.labels(text) if not t.startswith("_")), None)

    def topics_in(self, text: str) -> list[str]:
        """Every topic named in `text`, in order."""
        return [t for t in self._topics.labels(text) if not t.startswith("_")]

    def period_kinds(self, text: str) -> list[str]:
        """The period kinds of date_words.yml named in `text`, in order."""
        return [k for k in self._periods.labels(text) if not k.startswith("_")]

    def not_dates(self, words: list[str]) -> set[int]:
        """Indices of the words that belong to a `not_a_period` phrase ("اليوم العالمي")."""
        folded: list[tuple[str, int]] = [(part, i) for i, w in enumerate(words) for part in fold(w).split()]
        covered: set[int] = set()
        for phrase in self._not_a_period:
            for start in range(len(folded) - len(phrase) + 1):
                if [part for part, _ in folded[start : start + len(phrase)]] == phrase:
                    covered.update(i for _, i in folded[start : start + len(phrase)])
        return covered

    def means_any_city(self, text: str) -> bool:
        """Whether `text` asks for every city ("partout", "كل المدن")."""
        return text in self._anywhere

    def city_name(self, city_id: str, lang: str) -> str:
        """A city's display name in `lang` (else French, else its id)."""
        names = self.city_names.get(city_id) or {}
        return names.get(lang) or names.get("fr") or city_id

    def topic_name(self, topic_id: str, lang: str) -> str:
        """A topic's display name in `lang` (else French, else its id)."""
        names = self.topic_names.get(topic_id) or {}
        return names.get(lang) or names.get("fr") or topic_id

    def rewrite_months(self, words: list[str]) -> list[str]:
        """Words with Moroccan month names replaced by ones dateparser knows."""
        return [self._month_names.get(w, w) for w in words]


def _with_prefixes(labelled: Mapping[str, Iterable[Any]], prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    """Add each Arabic-script phrase with a glued prefix: و/ب/ف/ل + "الرباط" (ل + ال -> لل)."""
    out: dict[str, list[str]] = {}
    for label, phrases in labelled.items():
        items: list[str] = []
        for phrase in phrases or ():
            phrase = str(phrase)
            items.append(phrase)
            if not phrase or not _is_arabic_letter(phrase[0]):
                continue
            for prefix in prefixes:
                if prefix.endswith("ل") and phrase.startswith("ال"):
                    items.append(prefix + phrase[1:])
                else:
                    items.append(prefix + phrase)
        out[str(label)] = items
    return out


def _is_arabic_letter(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff"


_vocabulary: FileCache[Vocabulary] = FileCache()


def vocabulary(content_dir: Path | None = None) -> Vocabulary:
    """The project's vocabulary, re-read when one of its files changes on disk."""
    content_dir = content_dir or PROJECT_ROOT / "content"
    paths = [content_dir / name for name in ("cities.yml", "event_topics.yml", "date_words.yml")]
    return _vocabulary.get(paths, lambda: Vocabulary(content_dir))


# -- periods ------------------------------------------------------------------------------------
def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=CASABLANCA)


def _day(day: dt.date, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    return _midnight(day), _midnight(day + dt.timedelta(days=days))


def period_range(kind: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of a period kind from date_words.yml, in Morocco's time; None for `upcoming`."""
    today = now.astimezone(CASABLANCA).date()
    next_monday = today + dt.timedelta(days=7 - today.weekday())
    saturday = today - dt.timedelta(days=1) if today.weekday() == 6 else today + dt.timedelta(days=5 - today.weekday())
    first_of_next_month = today.replace(day=1) + relativedelta(months=1)
    if kind == "today":
        return _day(today)
    if kind == "tomorrow":
        return _day(today + dt.timedelta(days=1))
    if kind == "day_after_tomorrow":
        return _day(today + dt.timedelta(days=2))
    if kind == "this_week":
        # On a Sunday "this week" is mostly meant as the days ahead: include the coming week.
        end = next_monday + dt.timedelta(days=7) if today.weekday() == 6 else next_monday
        return _midnight(today), _midnight(end)
    if kind == "next_week":
        return _day(next_monday, 7)
    if kind == "this_weekend":
        return _midnight(max(saturday, today)), _midnight(saturday + dt.timedelta(days=2))
    if kind == "next_weekend":
        return _day(saturday + dt.timedelta(days=7), 2)
    if kind == "this_month":
        return _midnight(today), _midnight(first_of_next_month)
    if kind == "next_month":
        return _midnight(first_of_next_month), _midnight(first_of_next_month + relativedelta(months=1))
    if kind in WEEKDAYS:
        ahead = (WEEKDAYS.index(kind) - today.weekday()) % 7
        return _day(today + dt.timedelta(days=ahead))
    return None


def _range_of(day: dt.date, period: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) a date read by dateparser stands for, given its precision."""
    if period == "month":
        first = day.replace(day=1)
        return _midnight(first), _midnight(first + relativedelta(months=1))
    if period == "year":
        first = day.replace(month=1, day=1)
        return _midnight(first), _midnight(first + relativedelta(years=1))
    if period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return _day(monday, 7)
    return _day(day)


# -- dates with dateparser -----------------------------------------------------------------------
def _languages(text: str) -> list[str]:
    if any(_is_arabic_letter(ch) for ch in text):
        return ["ar", "fr", "en"]
    return ["fr", "en"]


def _settings(now: dt.datetime) -> dict[str, Any]:
    local = now.astimezone(CASABLANCA).replace(tzinfo=None)
    return {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": local,
        "TIMEZONE": "Africa/Casablanca",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "DATE_ORDER": "DMY",  # 24/3 is the 24th of March in Morocco
    }


def read_date(text: str, now: dt.datetime, vocab: Vocabulary) -> tuple[dt.datetime, dt.datetime] | None:
    """The first date the message names, as a [start, end) range (a day, or a month for "en avril").

    `search_dates` finds the candidates; each is then widened or narrowed by a few words and
    re-read with `DateDataParser` (which also says whether it is a day or a month), because the
    search alone misses "يوم 15 أبريل" (it keeps "أبريل") or swallows a time ("à 10h").
    Words with a digit are also tried, for "nhar 24 mars" in Darija.
    """
    words = [w.strip(_EDGE_PUNCTUATION) for w in clean(text).split()]
    words = vocab.rewrite_months([w for w in words if w])
    masked = vocab.not_dates(words)
    words = ["" if i in masked else w for i, w in enumerate(words)]
    if not any(words):
        return None
    languages = _languages(text)
    settings = _settings(now)
    parser = DateDataParser(languages=languages, settings=settings)
    today = now.astimezone(CASABLANCA).date()

    def read(span: list[str]) -> tuple[dt.date, str | None] | None:
        if not all(span):
            return None  # a window never crosses a word that is not a date
        phrase = " ".join(span)
        if phrase.isdigit() or len(phrase) < 3:
            return None  # "3" alone is a number, not the 3rd; "je" is not "jeudi"
        try:
            data = parser.get_date_data(phrase)
        except (ValueError, OverflowError, TypeError):  # dateparser's failures on odd input
            return None
        if data.date_obj is None:
            return None
        day = data.date_obj.date()
        if (day < today and data.period not in ("month", "year", "week")) or day > today + MAX_AHEAD:
            return None
        return day, data.period

    anchors: list[int] = []
    try:
        found = search_dates(" ".join(w for w in words if w), languages=languages, settings=settings) or []
    except (ValueError, OverflowError, TypeError):
        found = []
    for substring, _ in found:
        if len(substring.strip()) < 3:
            continue
        first = substring.split()[0]
        anchors.extend(i for i, w in enumerate(words) if w and w == first)
    anchors.extend(i for i, w in enumerate(words) if any(ch.isdigit() for ch in w))

    for anchor in sorted(set(anchors)):
        # Every span of up to WINDOW + 1 words around the anchor, the longest (then leftmost) first.
        spans = sorted(
            (
                (left, right)
                for left in range(max(0, anchor - WINDOW), anchor + 1)
                for right in range(anchor + 1, min(len(words), anchor + WINDOW + 1) + 1)
                if right - left <= WINDOW + 1
            ),
            key=lambda span: (span[0] - span[1], span[0]),
        )
        for left, right in spans:
            result = read(words[left:right])
            if result is not None:
                return _range_of(*result)
    return None


# -- the whole question -------------------------------------------------------------------------
def understand(text: str, now: dt.datetime, vocab: Vocabulary) -> Understood:
    """City, topic and period named in one message (None where it names none)."""
    kinds = vocab.period_kinds(text)
    specific = [k for k in kinds if k != "upcoming"]
    start = end = None
    if specific:
        start, end = period_range(specific[0], now) or (None, None)
    else:
        found = read_date(text, now, vocab)
        if found:
            start, end = found
    return Understood(
        city=vocab.city(text),
        topic=vocab.topic(text),
        start=start,
        end=end,
        any_city=vocab.means_any_city(text),
        any_date=not specific and start is None and "upcoming" in kinds,
    )


def with_entities(said: Understood, cities: Iterable[Any], topics: Iterable[Any], vocab: Vocabulary) -> Understood:
    """Fill the city/topic the text did not name from NLU entities or a button's payload."""
    city = said.city or next((c for c in (vocab.city(str(v)) for v in cities if v) if c), None)
    topic = said.topic or next((t for t in (vocab.topic(str(v)) for v in topics if v) if t), None)
    return replace(said, city=city, topic=topic)


def previous_query(city: Any, topic: Any, period: Any, now: dt.datetime, vocab: Vocabulary) -> Query:
    """The query kept in the slots events_city/events_topic/events_date (a past period is dropped)."""
    city_id = str(city) if city and str(city) in vocab.city_names else None
    topic_id = str(topic) if topic and str(topic) in vocab.topic_names else None
    start = end = None
    if isinstance(period, str) and "/" in period:
        try:
            start_s, end_s = period.split("/", 1)
            start, end = dt.datetime.fromisoformat(start_s), dt.datetime.fromisoformat(end_s)
        except ValueError:
            start = end = None
        if start is not None and end is not None and (start.tzinfo is None or end.tzinfo is None or end <= now):
            start = end = None
    return Query(city=city_id, topic=topic_id, start=start, end=end)


def follow_up(previous: Query, said: Understood) -> Query:
    """The new query: what the message says, and for the rest what was asked before."""
    city = said.city or (None if said.any_city else previous.city)
    topic = said.topic or previous.topic
    if said.start is not None or said.end is not None:
        start, end = said.start, said.end
    elif said.any_date:
        start = end = None
    else:
        start, end = previous.start, previous.end
    return Query(city=city, topic=topic, start=start, end=end)


def parse_query(text: str, now: dt.datetime, vocab: Vocabulary | None = None, previous: Query | None = None) -> Query:
    """The query a message asks, continuing `previous` when it is a follow-up."""
    vocab = vocab or vocabulary()
    return follow_up(previous or Query(), understand(text, now, vocab))
