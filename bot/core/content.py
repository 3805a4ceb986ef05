"""Content: the FAQ topics, the contact directory and the interface texts, loaded from data files.

Owns reading `faq/*.yml`, `content/contacts.yml`, `content/messages.yml` and `content/menu.yml`
and turning a topic into the text a user reads (answer pages, contact block, caution line).
Nothing here knows about Telegram or Rasa; the action server and the gateway both use it.
Files are read lazily and re-read when they change on disk, so an admin's edit goes live
without a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from bot.core.languages import ANSWER_LANGS, lang_map
from bot.core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_BREAK = "\f"  # separates pages inside a reply text; the renderer adds a "more" button
MAX_PAGE_CHARS = 700


class ContentError(ValueError):
    """A content file cannot be read or is malformed (path and reason in the message)."""


def load_yaml(path: Path) -> Any:
    """Read YAML safely (never executes tags); errors name the file."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: {exc}") from exc


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: object) -> str:
    """YAML as the project writes it: readable Unicode, keys in order, multi-line text as blocks."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


OLD_SOURCE_YEARS = 2  # a fact resting on a source older than this is shown as old


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: the page, when it was published (as the page says), when we read it.

    `published` is kept as written: `YYYY-MM-DD`, `YYYY-MM`, `YYYY` or `undated` (the page shows
    no date). In a spreadsheet cell a source is one line: `URL | published | read`.
    """

    url: str
    published: str | None = None
    read: dt.date | None = None

    @classmethod
    def parse(cls, value: Any) -> Source:
        """A source from YAML (a mapping, or the old bare URL) or from a spreadsheet line."""
        if isinstance(value, Mapping):
            published = value.get("published")
            if isinstance(published, (dt.date, dt.datetime)):
                published = published.isoformat()[:10]
            return cls(
                url=str(value.get("url") or "").strip(),
                published=_str_or_none(published),
                read=_date_or_none(value.get("read")),
            )
        parts = [part.strip() for part in str(value).split("|")]
        return cls(
            url=parts[0],
            published=(parts[1] or None) if len(parts) > 1 else None,
            read=_date_or_none(parts[2]) if len(parts) > 2 else None,
        )

    @property
    def undated(self) -> bool:
        return (self.published or "").casefold() == "undated"

    @property
    def year(self) -> int | None:
        """The year the page was published, or None (undated, missing or unreadable)."""
        text = (self.published or "")[:4]
        return int(text) if text.isdigit() else None

    def published_ok(self) -> bool:
        """`published` is a date, a month, a year or the word `undated`."""
        if self.undated:
            return True
        text = self.published or ""
        for length, fmt in ((10, "%Y-%m-%d"), (7, "%Y-%m"), (4, "%Y")):
            if len(text) == length:
                try:
                    dt.datetime.strptime(text, fmt)
                except ValueError:
                    return False
                return True
        return False

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url}
        if self.published:
            out["published"] = self.published
        if self.read:
            out["read"] = self.read
        return out

    def cell(self) -> str:
        """The source as one spreadsheet line: `URL | published | read`."""
        if not self.published and not self.read:
            return self.url
        return f"{self.url} | {self.published or ''} | {self.read.isoformat() if self.read else ''}"


def _source_or_none(value: Any) -> Source | None:
    if value in (None, ""):
        return None
    return Source.parse(value)


@dataclass(frozen=True)
class Office:
    """One city's office of a contact that publishes a number or address per city."""

    city: str
    phone: str | None = None
    whatsapp: str | None = None
    address: Mapping[str, str] = field(default_factory=dict)
    hours: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Office:
        return cls(
            city=str(raw.get("city") or ""),
            phone=_str_or_none(raw.get("phone")),
            whatsapp=_str_or_none(raw.get("whatsapp")),
            address=lang_map(raw.get("address")),
            hours=lang_map(raw.get("hours")),
        )


@dataclass(frozen=True)
class Contact:
    id: str
    name: Mapping[str, str]
    phone: str | None = None
    whatsapp: str | None = None
    address: Mapping[str, str] = field(default_factory=dict)
    hours: Mapping[str, str] = field(default_factory=dict)
    cities: tuple[str, ...] = ()
    url: str | None = None
    source: Source | None = None
    checked: dt.date | None = None
    check: bool = False
    what: Mapping[str, str] = field(default_factory=dict)
    reach: Mapping[str, str] = field(default_factory=dict)
    coverage: Mapping[str, str] = field(default_factory=dict)
    email: str | None = None
    offices: tuple[Office, ...] = ()
    free_call: bool = False

    @classmethod
    def from_dict(cls, contact_id: str, raw: Mapping[str, Any]) -> Contact:
        return cls(
            id=contact_id,
            name=dict(raw.get("name") or {}),
            phone=_str_or_none(raw.get("phone")),
            whatsapp=_str_or_none(raw.get("whatsapp")),
            address=dict(raw.get("address") or {}),
            hours=dict(raw.get("hours") or {}),
            cities=tuple(str(c) for c in raw.get("cities") or ()),
            url=_str_or_none(raw.get("url")),
            source=_source_or_none(raw.get("source")),
            checked=_date_or_none(raw.get("checked")),
            check=bool(raw.get("check", False)),
            what=lang_map(raw.get("what")),
            reach=lang_map(raw.get("reach")),
            coverage=lang_map(raw.get("coverage")),
            email=_str_or_none(raw.get("email")),
            offices=tuple(Office.from_dict(o) for o in raw.get("offices") or () if isinstance(o, Mapping)),
            free_call=bool(raw.get("free_call", False)),
        )

    def reachable(self) -> bool:
        """A person can reach it: a number, an e-mail, an address, or a sentence saying how."""
        return bool(
            self.phone
            or self.whatsapp
            or self.email
            or self.address
            or self.reach
            or any(o.phone or o.whatsapp or o.address for o in self.offices)
        )

    def places(self) -> tuple[str, ...]:
        """The cities it works in, as written: its `cities` and its offices' (\"Fès / Meknès\" is two)."""
        names = (part.strip() for name in (*self.cities, *(o.city for o in self.offices)) for part in name.split("/"))
        return tuple(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class Topic:
    id: str
    family: str
    title: Mapping[str, str]
    answer: Mapping[str, str]
    questions: Mapping[str, tuple[str, ...]]
    sources: tuple[Source, ...]
    contacts: tuple[str, ...]
    caution: Mapping[str, str]
    last_checked: dt.date | None
    path: Path | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], path: Path | None = None) -> Topic:
        questions = raw.get("questions") or {}
        return cls(
            id=str(raw.get("id") or (path.stem if path else "")),
            family=str(raw.get("family") or "support"),
            title=lang_map(raw.get("title")),
            answer=lang_map(raw.get("answer")),
            questions={
                str(lang): tuple(str(q) for q in items or () if q is not None) for lang, items in questions.items()
            },
            sources=tuple(Source.parse(s) for s in raw.get("sources") or ()),
            contacts=tuple(str(c) for c in raw.get("contacts") or ()),
            caution=lang_map(raw.get("caution")),
            last_checked=_date_or_none(raw.get("last_checked")),
            path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        """The topic as it is written in `faq/<id>.yml` (stable key order)."""
        out: dict[str, Any] = {"id": self.id, "family": self.family, "title": dict(self.title)}
        out["last_checked"] = self.last_checked
        out["sources"] = [s.to_yaml() if (s.published or s.read) else s.url for s in self.sources]
        out["contacts"] = list(self.contacts)
        if self.caution:
            out["caution"] = dict(self.caution)
        out["answer"] = dict(self.answer)
        out["questions"] = {lang: list(items) for lang, items in self.questions.items()}
        return out

    def all_questions(self) -> Iterable[tuple[str, str]]:
        for lang, items in self.questions.items():
            for question in items:
                yield lang, question


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _date_or_none(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def split_pages(text: str) -> list[str]:
    """Split an answer written with `---` lines into pages."""
    pages: list[list[str]] = [[]]
    for line in text.strip().splitlines():
        if line.strip() == "---":
            pages.append([])
        else:
            pages[-1].append(line)
    return [p for p in ("\n".join(lines).strip() for lines in pages) if p]


class FileCache(Generic[T]):
    """A value built from files, built again when any of them changes (path, mtime and size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._value: T | None = None

    def get(self, paths: list[Path], build: Callable[[], T]) -> T:
        stamp = tuple((str(p), *file_stamp(p)) for p in paths)
        with self._lock:
            if stamp != self._stamp or self._value is None:
                self._value = build()
                self._stamp = stamp
            return self._value


def file_stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


class Library:
    """The content of one project directory: FAQ topics, contacts, messages, menu."""

    def __init__(self, root: Path = PROJECT_ROOT) -> None:
        self.root = root
        self.faq_dir = root / "faq"
        self.content_dir = root / "content"
        self._topics: FileCache[dict[str, Topic]] = FileCache()
        self._contacts: FileCache[dict[str, Contact]] = FileCache()
        self._messages: FileCache[dict[str, dict[str, str]]] = FileCache()
        self._menu: FileCache[dict[str, Any]] = FileCache()
        self._typed: FileCache[dict[str, frozenset[str]]] = FileCache()

    # -- raw data -------------------------------------------------------------------------
    def topic_paths(self) -> list[Path]:
        return sorted(p for p in self.faq_dir.glob("*.yml") if not p.name.startswith("_"))

    def topics(self) -> dict[str, Topic]:
        paths = self.topic_paths()
        return self._topics.get([self.faq_dir, *paths], lambda: _load_topics(paths))

    def contacts(self) -> dict[str, Contact]:
        path = self.content_dir / "contacts.yml"

        def build() -> dict[str, Contact]:
            raw = load_yaml(path) or {}
            return {str(k): Contact.from_dict(str(k), v or {}) for k, v in raw.items()}

        return self._contacts.get([path], build)

    def message_paths(self) -> list[Path]:
        """content/messages.yml, then one file per feature (content/messages_<feature>.yml)."""
        return [self.content_dir / "messages.yml", *sorted(self.content_dir.glob("messages_*.yml"))]

    def messages(self) -> dict[str, dict[str, str]]:
        paths = self.message_paths()

        def build() -> dict[str, dict[str, str]]:
            merged: dict[str, dict[str, str]] = {}
            for path in paths:
                for key, value in (load_yaml(path) or {}).items():
                    if key in merged:
                        raise ValueError(f"{path.name}: the text {key!r} is already in another messages file")
                    merged[str(key)] = lang_map(value)
            return merged

        return self._messages.get([self.content_dir, *paths], build)

    def typed_answers(self) -> dict[str, frozenset[str]]:
        """content/typed_answers.yml folded: meaning (yes, no, more) -> the whole messages that mean it."""
        from bot.core.phrases import fold

        path = self.content_dir / "typed_answers.yml"

        def build() -> dict[str, frozenset[str]]:
            raw = load_yaml(path) if path.exists() else {}
            return {
                str(meaning): frozenset(fold(str(w)) for words in (langs or {}).values() for w in words or ())
                for meaning, langs in (raw or {}).items()
            }

        return self._typed.get([path], build)

    def menu(self) -> dict[str, Any]:
        path = self.content_dir / "menu.yml"
        return self._menu.get([path], lambda: dict(load_yaml(path) or {}))

    # -- texts ----------------------------------------------------------------------------
    def text(self, key: str, lang: str, darija: bool = False, **values: Any) -> str:
        """The interface text `key` in `lang` (falls back to French), with {placeholders} filled.

        `darija`: the reader writes Moroccan Darija; Arabic texts use the `ary` wording where
        there is one."""
        entry = self.messages().get(key)
        if not entry:
            raise KeyError(f"content/messages*.yml have no text {key!r}")
        template = (entry.get("ary") if darija and lang in ("ar", "ary") else None) or entry.get(lang)
        if template is None and lang == "ary":
            template = entry.get("ar")
        template = template or entry.get("all") or entry.get("fr") or next(iter(entry.values()))
        return template.format(**values) if values else template

    def has_text(self, key: str) -> bool:
        return key in self.messages()

    # -- answers --------------------------------------------------------------------------
    def answer(self, topic_id: str, lang: str, *, darija: bool = False) -> tuple[str, str] | None:
        """The full reply for a topic: (text with PAGE_BREAKs, the language actually used).

        Darija readers get the `ary` wording when a topic has one, else Arabic. When English is
        missing the reply is French with a short note first.
        """
        topic = self.topics().get(topic_id)
        if topic is None:
            return None
        used = lang if lang in ANSWER_LANGS else "fr"
        body = None
        note = None
        if used == "ar" and darija:
            body = topic.answer.get("ary")
        if body is None:
            body = topic.answer.get(used)
        if body is None and used == "en":
            used, body = "fr", topic.answer.get("fr")
            note = self.text("english_missing", "en")
        if body is None:
            used, body = "fr", topic.answer.get("fr", "")
        if "{" in body:
            body = self.fill(body, used)
        pages = split_pages(body)
        block = self.contact_block(topic.contacts, used)
        extra: list[str] = []
        if block:
            extra.append(block)
        caution = topic.caution.get(used)
        if caution:
            extra.append("⚠️ " + caution)
        dates = self.source_line(topic, used)
        if dates:
            extra.append(dates)
        if extra:
            pages.append("\n\n".join(extra))
        first = self.first_contact_line(topic, used)
        if first and pages:
            pages[0] = f"{pages[0]}\n\n{first}"
        if note:
            pages[0] = note + "\n\n" + pages[0]
        return PAGE_BREAK.join(pages), used

    def fill(self, text: str, lang: str) -> str:
        """Fill the answers' configured values: {operator} (content/hotline.yml `operator`, or the
        DALIL_OPERATOR setting) and {retention_days} (the RETENTION_DAYS setting)."""
        from bot.core.settings import Settings

        try:
            settings = Settings.from_env(root=self.root)
            days, operator_env = settings.retention_days, settings.operator
        except Exception:  # noqa: BLE001 - a bad setting must not hide the answer
            days, operator_env = 30, None
        hotline = load_yaml(self.content_dir / "hotline.yml") or {}
        names = hotline.get("operator") or {}
        operator = (
            operator_env
            or (names.get(lang) if isinstance(names, Mapping) else None)
            or (names.get("fr") if isinstance(names, Mapping) else None)
            or "Dalil"
        )
        return text.replace("{operator}", str(operator)).replace("{retention_days}", str(days))

    def first_contact_line(self, topic: Topic, lang: str) -> str | None:
        """The number of the topic's first reachable contact, for the answer's first page."""
        contacts = self.contacts()
        for cid in topic.contacts:
            contact = contacts.get(cid)
            line = compact_contact(contact, lang) if contact else None
            if line:
                return line
        return None

    def source_line(self, topic: Topic, lang: str, today: dt.date | None = None) -> str | None:
        """How old the facts are, as a user should read it: the year of the oldest source when
        it is old, else the newest; an undated page says when it was read."""
        today = today or dt.date.today()
        years = [s.year for s in topic.sources if s.year]
        if years:
            oldest = min(years)
            if today.year - oldest > OLD_SOURCE_YEARS:
                return self.text("source_old", lang, year=oldest)
            return self.text("source_recent", lang, year=max(years))
        reads = [s.read for s in topic.sources if s.read]
        if reads:
            return self.text("source_undated", lang, read=max(reads).isoformat())
        return None

    def contact_block(self, contact_ids: Iterable[str], lang: str) -> str:
        """Contact details as short lines: name, phone, WhatsApp, address, hours, cities."""
        contacts = self.contacts()
        lines: list[str] = []
        for cid in contact_ids:
            contact = contacts.get(cid)
            if contact is None:
                log.warning("unknown contact id %s", cid)
                continue
            lines.append(format_contact(contact, lang, self))
        return "\n\n".join(lines)


def _pick(texts: Mapping[str, str], lang: str) -> str | None:
    return texts.get(lang) or (texts.get("ar") if lang == "ary" else None) or texts.get("fr")


def format_contact(contact: Contact, lang: str, library: Library) -> str:
    """A contact as short lines: name, what it does, numbers, address, hours, offices, how to reach."""
    name = _pick(contact.name, lang) or contact.id
    parts = [f"• {name}"]
    what = _pick(contact.what, lang)
    if what:
        parts.append(f"  {what}")
    if contact.phone:
        parts.append(f"  📞 {_ltr(contact.phone)}")
    if contact.whatsapp:
        parts.append(f"  💬 WhatsApp {_ltr(contact.whatsapp)}")
    if contact.email:
        parts.append(f"  ✉️ {contact.email}")
    coverage = _pick(contact.coverage, lang)
    if coverage:
        parts.append(f"  ℹ️ {coverage}")
    address = _pick(contact.address, lang)
    if address:
        parts.append(f"  📍 {address}")
    hours = _pick(contact.hours, lang)
    if hours:
        parts.append(f"  🕘 {hours}")
    for office in contact.offices:
        line = [office.city]
        if office.phone:
            line.append(f"📞 {_ltr(office.phone)}")
        if office.whatsapp:
            line.append(f"💬 {_ltr(office.whatsapp)}")
        office_address = _pick(office.address, lang)
        if office_address:
            line.append(office_address)
        office_hours = _pick(office.hours, lang)
        if office_hours:
            line.append(f"🕘 {office_hours}")
        parts.append("  📍 " + " · ".join(line))
    if contact.cities and not address and not contact.offices:
        parts.append("  📍 " + ", ".join(contact.cities))
    reach = _pick(contact.reach, lang)
    if reach:
        parts.append(f"  ➜ {reach}")
    if contact.url and not contact.phone:
        parts.append(f"  🌐 {contact.url}")
    if contact.check:
        parts.append("  " + library.text("contact_to_confirm", lang))
    return "\n".join(parts)


def compact_contact(contact: Contact, lang: str) -> str | None:
    """One line with the way to reach a contact, for the first page of an answer; None when it
    has no number (the full details follow on the last page)."""
    name = _pick(contact.name, lang) or contact.id
    short = name.split(" (")[0].split(",")[0]
    numbers = [n for n in (contact.phone, contact.whatsapp) if n]
    if numbers:
        shown = " · ".join(
            ("WhatsApp " if n == contact.whatsapp and n != contact.phone else "") + _ltr(n) for n in numbers
        )
        return f"📞 {short}: {shown}"
    offices = [o for o in contact.offices if o.phone or o.whatsapp]
    if offices:
        shown = " · ".join(f"{o.city} {_ltr(o.phone or o.whatsapp or '')}" for o in offices[:2])
        return f"📞 {short}: {shown}…" if len(offices) > 2 else f"📞 {short}: {shown}"
    return None


def _ltr(number: str) -> str:
    """Keep a phone number left-to-right inside Arabic text.

    LEFT-TO-RIGHT MARKs rather than isolates: older Android phones draw isolates as boxes.
    """
    return f"\u200e{number}\u200e"


def _load_topics(paths: list[Path]) -> dict[str, Topic]:
    topics: dict[str, Topic] = {}
    for path in paths:
        raw = load_yaml(path)
        if not isinstance(raw, Mapping):
            raise ContentError(f"{path}: expected a mapping of fields (id, title, answer, …)")
        topic = Topic.from_dict(raw, path)
        topics[topic.id] = topic
    return topics


_default: Library | None = None


def library() -> Library:
    """The project's content library (one per process, created on first use)."""
    global _default
    if _default is None:
        _default = Library()
    return _default
