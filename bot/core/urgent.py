"""The urgent reply: the right first lines for the kind of danger, then the numbers to call.

Reads `content/urgent.yml` (texts and contact order per kind, the police caveat) and composes
the one message a person in danger reads first. Pure content logic: no Rasa, no Telegram; the
action server calls `urgent_reply` and the tests check its output per kind and language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content import Library, load_yaml

__all__ = ["UrgentPlan", "lead_kind", "urgent_plan", "urgent_reply"]

FALLBACK_KIND = "help"


@dataclass(frozen=True)
class UrgentPlan:
    """What the urgent reply says: the leading kind, its first lines, the contacts in order."""

    kind: str
    first: str
    contacts: tuple[str, ...]
    police_caveat: bool


def _config(lib: Library) -> Mapping[str, Any]:
    return load_yaml(lib.content_dir / "urgent.yml") or {}


def _pick(texts: Mapping[str, str], lang: str, darija: bool) -> str:
    if darija and lang == "ar" and texts.get("ary"):
        return str(texts["ary"]).strip()
    return str(texts.get(lang) or texts.get("fr") or "").strip()


def lead_kind(found: Iterable[str], order: Iterable[str]) -> str:
    """The kind that leads the reply: the first of `order` among those found, else `help`."""
    found = list(found)
    for kind in order:
        if kind in found:
            return kind
    return found[0] if found else FALLBACK_KIND


def urgent_plan(lib: Library, found: Iterable[str], lang: str, darija: bool = False) -> UrgentPlan:
    """The leading kind's first lines, and its contacts followed by those of the other kinds."""
    config = _config(lib)
    kinds: Mapping[str, Any] = config.get("kinds") or {}
    found = [k for k in found if k in kinds]
    order = list(config.get("order") or kinds)
    lead = lead_kind(found, order)
    entry = kinds.get(lead) or {}
    contacts: list[str] = list(entry.get("contacts") or [])
    caveat = bool(entry.get("police_caveat"))
    for kind in sorted(found, key=lambda k: order.index(k) if k in order else len(order)):
        if kind == lead:
            continue
        other = kinds.get(kind) or {}
        contacts += [c for c in other.get("contacts") or [] if c not in contacts]
        caveat = caveat or bool(other.get("police_caveat"))
    return UrgentPlan(lead, _pick(entry.get("first") or {}, lang, darija), tuple(contacts), caveat)


def urgent_reply(lib: Library, found: Iterable[str], lang: str, darija: bool = False) -> str:
    """The first message for a person in danger: what to do, the numbers, the police caveat."""
    plan = urgent_plan(lib, found, lang, darija)
    parts = [plan.first, lib.contact_block(plan.contacts, lang)]
    if plan.police_caveat:
        parts.append(_pick(_config(lib).get("police_caveat") or {}, lang, darija))
    return "\n\n".join(p for p in parts if p)
