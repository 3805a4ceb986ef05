"""Danger words: a fast check, before any model, for messages that mean "danger right now".

The phrase lists are data (`content/danger_words.yml`), grouped by kind of danger (medical,
self-harm, sexual violence, a child alone, violence at home, violence, confinement, arrest, a
call for help). Matching forgives case, accents, Arabic spelling variants and punctuation
(bot.core.phrases), so a long message that mentions an assault in its middle is still caught, in
any language. `kinds()` says which kinds a message names, so the urgent reply can give the
right line for that danger first. `is_distress()` spots a message that is only distress
("😭", "je suis perdu"): not an emergency, but not "I did not understand" either.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.core.content import load_yaml
from bot.core.phrases import PhraseIndex, fold
from bot.core.settings import PROJECT_ROOT

__all__ = ["DEFAULT_PATH", "DangerWords", "is_distress", "is_urgent", "kinds"]

DEFAULT_PATH = PROJECT_ROOT / "content" / "danger_words.yml"
_SAD = set("😭😢😥😰😨😱😞😔😟😩😫💔🥺🙏😿☹🙁")


@dataclass(frozen=True)
class DangerWords:
    """The danger phrases of one file, indexed by kind."""

    danger: PhraseIndex
    hypothetical: PhraseIndex
    distress: frozenset[str]
    order: tuple[str, ...]

    @classmethod
    def from_data(cls, raw: dict[str, Any]) -> DangerWords:
        kinds_raw = raw.get("kinds") or {}
        by_kind: dict[str, list[str]] = {}
        for kind, languages in kinds_raw.items():
            phrases = by_kind.setdefault(str(kind), [])
            for items in (languages or {}).values():
                phrases.extend(str(p) for p in items or ())
        distress = frozenset(fold(str(p)) for items in (raw.get("distress") or {}).values() for p in items or ())
        return cls(
            PhraseIndex(by_kind),
            PhraseIndex({"if": raw.get("if_words") or []}),
            distress,
            tuple(str(k) for k in kinds_raw),
        )

    def kinds(self, text: str) -> list[str]:
        """The kinds of danger named in the text, not put as a hypothesis, in order of appearance."""
        folded = fold(text)
        found: list[str] = []
        for kind, start in self.danger.found(folded):
            before = folded[:start].split()[-4:]
            if not self.hypothetical.labels(" ".join(before)) and kind not in found:
                found.append(kind)
        return found

    def is_distress(self, text: str) -> bool:
        """The whole message is distress only: a sad or praying emoji, or a phrase like "je suis perdu"."""
        stripped = "".join(ch for ch in text if not unicodedata.category(ch).startswith(("Z", "C")))
        stripped = stripped.replace("\ufe0f", "")
        if stripped and all(ch in _SAD for ch in stripped):
            return True
        folded = fold(text)
        return bool(folded) and (
            folded in self.distress
            or re.sub(r"\s+(svp|stp|please|pls|3afak|عافاك|عافاكم)$", "", folded) in self.distress
        )


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> DangerWords:
    return DangerWords.from_data(dict(load_yaml(path) or {}))


def _words(path: Path) -> DangerWords | None:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _load(path, mtime)


def kinds(text: str, path: Path = DEFAULT_PATH) -> list[str]:
    """Kinds of danger in the message (empty: not urgent)."""
    words = _words(path)
    return words.kinds(text) if words else []


def is_urgent(text: str, path: Path = DEFAULT_PATH) -> bool:
    """True when the message contains a danger phrase, not put as a hypothesis, in any language."""
    return bool(kinds(text, path))


def is_distress(text: str, path: Path = DEFAULT_PATH) -> bool:
    """True when the message is only distress (see DangerWords.is_distress)."""
    words = _words(path)
    return bool(words and words.is_distress(text))
