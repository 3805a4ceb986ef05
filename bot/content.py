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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

AnswerLang = Literal["fr", "ar", "en"]
ANSWER_LANGS: tuple[AnswerLang, ...] = ("fr", "ar", "en")
QUESTION_LANGS: tuple[str, ...] = ("fr", "ar", "ary_arab", "ary_latn", "en")
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
    source: str | None = None
    checked: dt.date | None = None
    check: bool = False

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
            source=_str_or_none(raw.get("source")),
            checked=_date_or_none(raw.get("checked")),
            check=bool(raw.get("check", False)),
        )


@dataclass(frozen=True)
class Topic:
    id: str
    family: str
    title: Mapping[str, str]
    answer: Mapping[str, str]
    questions: Mapping[str, tuple[str, ...]]
    sources: tuple[str, ...]
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
            title=_lang_map(raw.get("title")),
            answer=_lang_map(raw.get("answer")),
            questions={
                str(lang): tuple(str(q) for q in items or () if q is not None)
                for lang, items in questions.items()
            },
            sources=tuple(str(s) for s in raw.get("sources") or ()),
            contacts=tuple(str(c) for c in raw.get("contacts") or ()),
            caution=_lang_map(raw.get("caution")),
            last_checked=_date_or_none(raw.get("last_checked")),
            path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        """The topic as it is written in `faq/<id>.yml` (stable key order)."""
        out: dict[str, Any] = {"id": self.id, "family": self.family, "title": dict(self.title)}
        out["last_checked"] = self.last_checked
        out["sources"] = list(self.sources)
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


def _lang_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v).strip() for k, v in value.items() if v not in (None, "")}


def split_pages(text: str) -> list[str]:
    """Split an answer written with `---` lines into pages."""
    pages: list[list[str]] = [[]]
    for line in text.strip().splitlines():
        if line.strip() == "---":
            pages.append([])
        else:
            pages[-1].append(line)
    return [p for p in ("\n".join(lines).strip() for lines in pages) if p]


class _Cache:
    """Re-reads a set of files when any of them changes (mtime and size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._value: Any = None

    def get(self, paths: list[Path], build: Any) -> Any:
        stamp = tuple((str(p), *_stat(p)) for p in paths)
        with self._lock:
            if stamp != self._stamp:
                self._value = build()
                self._stamp = stamp
            return self._value


def _stat(path: Path) -> tuple[int, int]:
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
        self._topics = _Cache()
        self._contacts = _Cache()
        self._messages = _Cache()
        self._menu = _Cache()

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

    def messages(self) -> dict[str, dict[str, str]]:
        path = self.content_dir / "messages.yml"
        return self._messages.get([path], lambda: {k: _lang_map(v) for k, v in (load_yaml(path) or {}).items()})

    def menu(self) -> dict[str, Any]:
        path = self.content_dir / "menu.yml"
        return self._menu.get([path], lambda: load_yaml(path) or {})

    # -- texts ----------------------------------------------------------------------------
    def text(self, key: str, lang: str, **values: Any) -> str:
        """The interface text `key` in `lang` (falls back to French), with {placeholders} filled."""
        entry = self.messages().get(key)
        if not entry:
            raise KeyError(f"content/messages.yml has no text {key!r}")
        template = entry.get(lang) or entry.get("all") or entry.get("fr") or next(iter(entry.values()))
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
        pages = split_pages(body)
        block = self.contact_block(topic.contacts, used)
        extra: list[str] = []
        if block:
            extra.append(block)
        caution = topic.caution.get(used)
        if caution:
            extra.append("⚠️ " + caution)
        if topic.last_checked:
            extra.append(self.text("checked_on", used, date=topic.last_checked.isoformat()))
        if extra:
            pages.append("\n\n".join(extra))
        if note:
            pages[0] = note + "\n\n" + pages[0]
        return PAGE_BREAK.join(pages), used

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


def format_contact(contact: Contact, lang: str, library: Library) -> str:
    name = contact.name.get(lang) or contact.name.get("fr") or contact.id
    parts = [f"• {name}"]
    if contact.phone:
        parts.append(f"  📞 {_ltr(contact.phone)}")
    if contact.whatsapp:
        parts.append(f"  💬 WhatsApp {_ltr(contact.whatsapp)}")
    address = contact.address.get(lang) or contact.address.get("fr")
    if address:
        parts.append(f"  📍 {address}")
    hours = contact.hours.get(lang) or contact.hours.get("fr")
    if hours:
        parts.append(f"  🕘 {hours}")
    if contact.cities and not address:
        parts.append("  📍 " + ", ".join(contact.cities))
    if contact.url and not contact.phone:
        parts.append(f"  🌐 {contact.url}")
    if contact.check:
        parts.append("  " + library.text("contact_to_confirm", lang))
    return "\n".join(parts)


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
