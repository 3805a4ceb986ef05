"""Reading event feeds: iCalendar (.ics), a JSON feed and the repo's YAML file, into `Event`s.

Owns fetching one source (an http(s) URL through the shared httpx client, or a file path),
recognising its format (content type, then file extension, then the first bytes) and parsing it.
A feed that cannot be read raises `FeedError`; an event that cannot be read is skipped and named
in `Parsed.problems`, so one bad entry never hides the others. Recurring events (iCalendar RRULE,
or `rrule` in JSON/YAML) are expanded into one `Event` per occurrence inside a time window.
The formats are documented in docs/events.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import httpx
import recurring_ical_events
import yaml
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]  # no types-python-dateutil in the dev deps
from icalendar import Calendar, Component, vDDDTypes, vDuration

from bot.core.languages import ANSWER_LANGS, lang_map
from bot.events.model import CASABLANCA, Event, FeedError
from bot.events.query import Vocabulary

log = logging.getLogger(__name__)

Format = Literal["ics", "json", "yaml"]
MAX_BYTES = 5_000_000  # a feed bigger than this is not a calendar of local events
MAX_OCCURRENCES = 400  # per recurring event, inside the window
LANGS = ANSWER_LANGS


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class Parsed:
    """The events of one feed, the entries that were skipped (why), and its `sample` flag."""

    events: tuple[Event, ...]
    problems: tuple[str, ...] = ()
    sample: bool = False


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.items.append(f"{where}: {reason}")


def is_url(source: str) -> bool:
    """Whether a source is fetched over HTTP (else it is a file)."""
    return source.startswith(("http://", "https://"))


def source_label(source: str) -> str:
    """A source as logs and reports show it: host and file name only (private links hold secrets)."""
    if is_url(source):
        parts = urlsplit(source)
        name = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return (
            f"{parts.scheme}://{parts.hostname or ''}/…/{name}" if name else f"{parts.scheme}://{parts.hostname or ''}/"
        )
    return source


def _path_of(source: str) -> Path:
    return Path(unquote(urlsplit(source).path)) if source.startswith("file://") else Path(source)


async def fetch(http: httpx.AsyncClient, source: str, timeout: float) -> Fetched:
    """The raw bytes of a source; FeedError says why they could not be had."""
    if not is_url(source):
        path = _path_of(source)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FeedError(f"cannot read the file ({exc.strerror or type(exc).__name__})") from exc
        if len(data) > MAX_BYTES:
            raise FeedError(f"file larger than {MAX_BYTES} bytes")
        return Fetched(data)
    try:
        async with http.stream("GET", source, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise FeedError(f"HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FeedError(f"response larger than {MAX_BYTES} bytes")
                chunks.append(chunk)
            return Fetched(b"".join(chunks), response.headers.get("content-type"))
    except httpx.TimeoutException as exc:
        raise FeedError(f"timed out after {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"{type(exc).__name__}: {exc}") from exc


def detect_format(source: str, fetched: Fetched) -> Format:
    """The feed's format from its content type, else its file extension, else its first bytes."""
    ctype = (fetched.content_type or "").split(";")[0].strip().lower()
    if ctype == "text/calendar":
        return "ics"
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        return "yaml"
    suffix = Path(urlsplit(source).path if is_url(source) else source).suffix.lower()
    if suffix in (".ics", ".ical", ".ifb"):
        return "ics"
    if suffix == ".json":
        return "json"
    if suffix in (".yml", ".yaml"):
        return "yaml"
    head = fetched.data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "ics"
    if head[:1] in (b"{", b"["):
        return "json"
    raise FeedError("unknown format: neither iCalendar nor JSON (check the URL and its content type)")


def parse_feed(
    data: bytes, fmt: Format, source: str, vocab: Vocabulary, window: tuple[dt.datetime, dt.datetime]
) -> Parsed:
    """All events of a feed that take place inside `window` (recurring ones expanded)."""
    if fmt == "ics":
        return parse_ics(data, source, vocab, window)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError("not UTF-8 text") from exc
    try:
        raw = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise FeedError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise FeedError(f"not valid YAML{where}") from exc
    return parse_structured(raw, source, vocab, window)


# -- JSON and YAML -------------------------------------------------------------------------------
def parse_structured(raw: Any, source: str, vocab: Vocabulary, window: tuple[dt.datetime, dt.datetime]) -> Parsed:
    """Events from the JSON/YAML schema: {"sample": bool, "events": [...]} or a bare list."""
    if isinstance(raw, list):
        items, sample = raw, False
    elif isinstance(raw, Mapping) and isinstance(raw.get("events", []), list):
        items, sample = raw.get("events") or [], bool(raw.get("sample", False))
    else:
        raise FeedError('expected a list of events or an object with an "events" list')
    problems = _Problems()
    events: list[Event] = []
    for index, item in enumerate(items):
        where = f"event #{index + 1}"
        if isinstance(item, Mapping) and item.get("id") not in (None, ""):
            where = f"event {item['id']}"
        try:
            events.extend(_events_from_dict(item, source, vocab, window, sample, problems, where))
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            problems.add(where, f"skipped: {_reason(exc)}")
    return Parsed(tuple(events), tuple(problems.items), sample)


def _events_from_dict(
    item: Any,
    source: str,
    vocab: Vocabulary,
    window: tuple[dt.datetime, dt.datetime],
    sample: bool,
    problems: _Problems,
    where: str,
) -> list[Event]:
    if not isinstance(item, Mapping):
        raise ValueError("an event must be an object with fields")
    event_id = _text(item.get("id"))
    if not event_id:
        raise ValueError("no id")
    titles = lang_map(item.get("title", item.get("titles")), plain="fr")
    if not titles.get("fr"):
        raise ValueError("no French title (title.fr)")
    if "start" not in item:
        raise ValueError("no start")
    all_day = bool(item.get("all_day", False))
    start, start_is_date = _when(item["start"], "start")
    all_day = all_day or start_is_date
    if all_day:
        start = _midnight(start)
    if item.get("end") not in (None, ""):
        end, _ = _when(item["end"], "end")
        if all_day:  # the last day, included, as people write it: 1 to 3 June is three days
            end = _midnight(end) + dt.timedelta(days=1)
    else:
        end = start + dt.timedelta(days=1) if all_day else start
    if end < start:
        raise ValueError("end is before start")
    city = None
    if item.get("city") not in (None, ""):
        city = vocab.city(str(item["city"]))
        if city is None:
            problems.add(where, f"unknown city {str(item['city'])[:40]!r} (shown without a city)")
    topics = _topics(_list(item.get("topics", item.get("topic"))), vocab, problems, where)
    base = Event(
        id=event_id,
        titles=titles,
        descriptions=lang_map(item.get("description", item.get("descriptions")), plain="fr"),
        start=start,
        end=end,
        all_day=all_day,
        city=city,
        venue=_text(item.get("venue")),
        address=_text(item.get("address")),
        organiser=_text(item.get("organiser", item.get("organizer"))),
        topics=topics,
        audience=lang_map(item.get("audience"), plain="fr"),
        languages=tuple(str(x) for x in _list(item.get("languages"))),
        price=_price(item.get("price")),
        registration=_text(item.get("registration")),
        url=_text(item.get("url")),
        source=source,
        sample=bool(item.get("sample", sample)),
    )
    rule = _text(item.get("rrule"))
    if not rule:
        return [base] if base.overlaps(*window) else []
    excluded = {_when(x, "exdates")[0].date() for x in _list(item.get("exdates"))}
    return _expand_rrule(base, rule, excluded, window)


def _expand_rrule(
    base: Event, rule: str, excluded: set[dt.date], window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    rule = rule.removeprefix("RRULE:")
    try:
        recurrence = rrulestr(rule, dtstart=base.start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"rrule: {_reason(exc)}") from exc
    duration = base.end - base.start
    out: list[Event] = []
    for start in recurrence.xafter(window[0] - duration, count=MAX_OCCURRENCES, inc=True):
        if start >= window[1]:
            break
        if start.date() in excluded:
            continue
        start = _aware(start)
        out.append(replace(base, id=f"{base.id}@{start.isoformat()}", start=start, end=start + duration))
    return out


def _when(value: Any, name: str) -> tuple[dt.datetime, bool]:
    """A datetime (aware, Morocco's time when none is given) and whether it was a bare date."""
    if isinstance(value, dt.datetime):
        return _aware(value), False
    if isinstance(value, dt.date):
        return _midnight(dt.datetime.combine(value, dt.time())), True
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            return _midnight(dt.datetime.combine(dt.date.fromisoformat(text), dt.time())), True
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{name} is not an ISO 8601 date or datetime") from exc
        return _aware(parsed), False
    raise ValueError(f"{name} is not an ISO 8601 date or datetime")


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=CASABLANCA)
    return value.astimezone(CASABLANCA)


def _midnight(value: dt.datetime) -> dt.datetime:
    local = value.astimezone(CASABLANCA) if value.tzinfo else value
    return dt.datetime.combine(local.date(), dt.time(), tzinfo=CASABLANCA)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v not in (None, "")]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _price(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if (
        value is False
        or value == 0
        or str(value).strip().lower() in ("free", "gratuit", "gratuite", "0", "مجاني", "مجانا")
    ):
        return "free"
    return str(value).strip()


def _topics(values: Iterable[Any], vocab: Vocabulary, problems: _Problems, where: str) -> tuple[str, ...]:
    """Topic ids from ids or words in any language ("VIH", "Santé", "health")."""
    out: list[str] = []
    for value in values:
        text = str(value)
        found = [text] if text in vocab.topic_names else vocab.topics_in(text)
        if not found:
            problems.add(where, f"unknown topic {text[:40]!r} (ignored)")
        out.extend(t for t in found if t not in out)
    return tuple(out)


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:160]


# -- iCalendar ------------------------------------------------------------------------------------
def parse_ics(data: bytes, source: str, vocab: Vocabulary, window: tuple[dt.datetime, dt.datetime]) -> Parsed:
    """Events of an iCalendar feed; each series is expanded on its own so one bad one is skipped."""
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise FeedError(f"not a valid iCalendar file ({_reason(exc).split(':')[0][:80]})") from exc
    if isinstance(calendar, list) or getattr(calendar, "name", None) != "VCALENDAR":
        raise FeedError("not a valid iCalendar file (expected one VCALENDAR)")
    sample = str(calendar.get("X-DALIL-SAMPLE", "")).strip().upper() in ("TRUE", "YES", "1")
    timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    series: dict[str, list[Component]] = {}
    for component in (c for c in calendar.subcomponents if c.name == "VEVENT"):
        uid = _text(component.get("UID")) or fallback_id(source, component.to_ical().decode("utf-8", "replace"))
        series.setdefault(uid, []).append(component)
    problems = _Problems()
    events: list[Event] = []
    for uid, components in series.items():
        where = f"event {uid}"
        try:
            events.extend(
                _series_events(uid, components, calendar, timezones, source, vocab, window, sample, problems, where)
            )
        except Exception as exc:  # noqa: BLE001 - a broken series must never hide the others
            problems.add(where, f"skipped: {_reason(exc)}")
    return Parsed(tuple(events), tuple(problems.items), sample)


def _ics_duration(prop: object) -> dt.timedelta:
    """The length of time of a DURATION property; any other value skips the event (as before)."""
    value = prop.dt if isinstance(prop, (vDDDTypes, vDuration)) else None
    if not isinstance(value, dt.timedelta):
        raise ValueError("DURATION is not a length of time")
    return value


def _series_events(
    uid: str,
    components: list[Component],
    calendar: Calendar,
    timezones: list[Component],
    source: str,
    vocab: Vocabulary,
    window: tuple[dt.datetime, dt.datetime],
    sample: bool,
    problems: _Problems,
    where: str,
) -> list[Event]:
    single = Calendar()
    for key in ("X-WR-TIMEZONE",):
        if key in calendar:
            single.add(key, calendar[key])
    for component in [*timezones, *components]:
        single.add_component(component)
    recurring = any("RRULE" in c or "RDATE" in c for c in components)
    out: list[Event] = []
    for index, occurrence in enumerate(recurring_ical_events.of(single).between(*window)):
        if index >= MAX_OCCURRENCES:
            break
        if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
            continue
        event = _event_from_vevent(occurrence, uid, recurring, source, vocab, sample, problems, where)
        if event is not None:
            out.append(event)
    return out


def _event_from_vevent(
    component: Component,
    uid: str,
    recurring: bool,
    source: str,
    vocab: Vocabulary,
    sample: bool,
    problems: _Problems,
    where: str,
) -> Event | None:
    start_prop = component.get("DTSTART")
    if start_prop is None:
        raise ValueError("no DTSTART")
    start_value = start_prop.dt
    all_day = isinstance(start_value, dt.date) and not isinstance(start_value, dt.datetime)
    start = _midnight(dt.datetime.combine(start_value, dt.time())) if all_day else _aware(start_value)
    end_prop = component.get("DTEND")
    if end_prop is not None:
        end_value = end_prop.dt
        if isinstance(end_value, dt.datetime):
            end = _aware(end_value)
        else:
            end = _midnight(dt.datetime.combine(end_value, dt.time()))
    elif component.get("DURATION") is not None:
        end = start + _ics_duration(component["DURATION"])
    else:
        end = start + dt.timedelta(days=1) if all_day else start
    if end < start:
        raise ValueError("DTEND is before DTSTART")

    titles = _ics_langs(component, "SUMMARY", "X-DALIL-TITLE")
    if not titles.get("fr"):
        raise ValueError("no French title (SUMMARY, or X-DALIL-TITLE-FR)")
    location = _text(component.get("LOCATION"))
    venue = _text(component.get("X-DALIL-VENUE"))
    address = _text(component.get("X-DALIL-ADDRESS"))
    if location and not venue:
        parts = [p.strip() for p in location.split(",") if p.strip()]
        venue = parts[0] if parts and not vocab.is_only_a_city(parts[0]) else None
        address = address or (", ".join(parts[1:]) or None)
    city_text = _text(component.get("X-DALIL-CITY")) or location
    city = vocab.city(city_text) if city_text else None
    if city_text and city is None:
        problems.add(where, f"no known city in {city_text[:60]!r} (shown without a city)")
    categories: list[str] = []
    raw_categories = component.get("CATEGORIES")
    for prop in raw_categories if isinstance(raw_categories, list) else [raw_categories] if raw_categories else []:
        categories.extend(str(c) for c in getattr(prop, "cats", [prop]))
    categories.extend(_list(_text(component.get("X-DALIL-TOPICS"))))
    start_id = start.date().isoformat() if all_day else start.isoformat()
    return Event(
        id=f"{uid}@{start_id}" if recurring else uid,
        titles=titles,
        descriptions=_ics_langs(component, "DESCRIPTION", "X-DALIL-DESCRIPTION"),
        start=start,
        end=end,
        all_day=all_day,
        city=city,
        venue=venue,
        address=address,
        organiser=_organiser(component.get("ORGANIZER")),
        topics=_topics(categories, vocab, problems, where),
        audience=_ics_langs(component, "X-DALIL-AUDIENCE", "X-DALIL-AUDIENCE"),
        languages=tuple(_list(_text(component.get("X-DALIL-LANGUAGES")))),
        price=_price(_text(component.get("X-DALIL-PRICE"))),
        registration=_text(component.get("X-DALIL-REGISTRATION")),
        url=_text(component.get("URL")),
        source=source,
        sample=sample,
    )


def _ics_langs(component: Component, name: str, prefix: str) -> dict[str, str]:
    """A text property by language: NAME (French unless LANGUAGE= says otherwise) and PREFIX-AR/-EN/-FR."""
    out: dict[str, str] = {}
    prop = component.get(name)
    if prop is not None and not isinstance(prop, list):
        lang = str(getattr(prop, "params", {}).get("LANGUAGE", "fr")).lower()[:2] or "fr"
        if str(prop).strip():
            out[lang] = str(prop).strip()
    for lang in LANGS:
        value = _text(component.get(f"{prefix}-{lang.upper()}"))
        if value:
            out[lang] = value
    return out


def _organiser(prop: Any) -> str | None:
    if prop is None:
        return None
    name = getattr(prop, "params", {}).get("CN")
    if name:
        return str(name).strip() or None
    value = str(prop)
    return value.removeprefix("mailto:").removeprefix("MAILTO:").strip() or None


def fallback_id(*parts: str) -> str:
    """A stable id for an entry that has none (hash of what identifies it)."""
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:16]
