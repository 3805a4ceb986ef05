"""Phrase matching that forgives spelling: one folding for danger words, language names, cities.

Text and phrases are folded the same way (case, Latin accents, Arabic spelling variants,
punctuation as single spaces) and matched on word boundaries. A word of a phrase ending in `*`
matches any ending ("enferm*" matches enfermé, enfermée, enferment).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from bot.core.textnorm import clean, normalize_arabic

_NON_WORD = re.compile(r"[^\w']+")


def fold(text: str) -> str:
    """Lowercase, strip Latin accents, normalise Arabic, turn punctuation into single spaces."""
    text = normalize_arabic(clean(text)).lower().replace("’", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    # Drop combining marks of Latin letters only; Arabic marks are already removed.
    text = "".join(ch for ch in decomposed if not (unicodedata.combining(ch) and ord(ch) < 0x0600))
    return " ".join(_NON_WORD.sub(" ", text).split())


class PhraseIndex:
    """Finds which labelled phrases occur in a text (e.g. {"ar": ["arabe", ...]})."""

    def __init__(self, labelled: Mapping[str, Iterable[str]]) -> None:
        self._label: dict[str, str] = {}
        for label, phrases in labelled.items():
            for phrase in phrases or ():
                folded = _fold_phrase(str(phrase))
                if folded:
                    self._label.setdefault(folded, str(label))
        if self._label:
            alternation = "|".join(_regex(p) for p in sorted(self._label, key=len, reverse=True))
            # Arabic glues "and" to the next word ("وما بقاش كيتنفس"): a phrase in Arabic letters
            # also matches after a joined و. The phrase itself is group 1.
            self._pattern: re.Pattern[str] | None = re.compile(
                rf"(?<!\w)(?:و(?=[\u0621-\u064A]))?({alternation})(?!\w)"
            )
        else:
            self._pattern = None

    def labels(self, text: str) -> list[str]:
        """Labels of the phrases found, in order of appearance (repeats removed)."""
        if self._pattern is None:
            return []
        seen: list[str] = []
        for match in self._pattern.finditer(fold(text)):
            label = self._label.get(match.group(1)) or self._wildcard_label(match.group(1))
            if label not in seen:
                seen.append(label)
        return seen

    def spans(self, text: str, *, folded: bool = False) -> list[tuple[int, int]]:
        """Where the phrases occur in the folded text (start, end)."""
        if self._pattern is None:
            return []
        return [m.span(1) for m in self._pattern.finditer(text if folded else fold(text))]

    def found(self, folded: str) -> list[tuple[str, int]]:
        """(label, start) of every phrase in an already folded text, in order."""
        if self._pattern is None:
            return []
        out: list[tuple[str, int]] = []
        for match in self._pattern.finditer(folded):
            out.append((self._label.get(match.group(1)) or self._wildcard_label(match.group(1)), match.start(1)))
        return out

    def _wildcard_label(self, found: str) -> str:
        for phrase, label in self._label.items():
            if "*" in phrase and re.fullmatch(_regex(phrase), found):
                return label
        return ""

    def __contains__(self, text: str) -> bool:
        return bool(self._pattern and self._pattern.search(fold(text)))


def _fold_phrase(phrase: str) -> str:
    """Fold a phrase word by word, keeping the `*` wildcards ("la police * arrete*")."""
    words = []
    for word in phrase.split():
        if word == "*":
            words.append("*")
        elif word.endswith("*") and fold(word[:-1]):
            words.append(fold(word[:-1]) + "*")
        elif fold(word):
            words.append(fold(word))
    return " ".join(words)


def _regex(phrase: str) -> str:
    """`*` alone is any one word; a word ending in `*` is a stem."""
    parts = []
    for word in phrase.split(" "):
        if word == "*":
            parts.append(r"\w[\w']*")
        elif word.endswith("*"):
            parts.append(re.escape(word[:-1]) + r"[\w']*")
        else:
            parts.append(re.escape(word))
    return " ".join(parts)
