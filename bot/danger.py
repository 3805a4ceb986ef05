"""Danger words: a fast check, before any model, for messages that mean "danger right now".

The phrase list is data (`content/danger_words.yml`); matching forgives case, accents, Arabic
spelling variants and punctuation (bot.phrases), so a long message that mentions an assault in
its middle is still caught, in any language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.content import load_yaml
from bot.phrases import PhraseIndex, fold
from bot.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "content" / "danger_words.yml"


@lru_cache(maxsize=4)
def _index(path: Path, mtime_ns: int) -> tuple[PhraseIndex, PhraseIndex]:
    raw = dict(load_yaml(path) or {})
    if_words = raw.pop("if_words", None) or []
    return PhraseIndex(raw), PhraseIndex({"if": if_words})


def is_urgent(text: str, path: Path = DEFAULT_PATH) -> bool:
    """True when the message contains a danger phrase, not put as a hypothesis, in any language."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return False
    danger, hypothetical = _index(path, mtime)
    folded = fold(text)
    for start, _end in danger.spans(folded, folded=True):
        before = folded[:start].split()[-4:]
        if not hypothetical.labels(" ".join(before)):
            return True
    return False
