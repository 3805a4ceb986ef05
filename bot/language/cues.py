"""The cue lexicon of the language detector: `cues.yml` (data, not code) read and normalised
for matching. `load_cues()` is called once by the detector; docs/language.md explains each cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.core.textnorm import clean, normalize_arabic

Lang = Literal["fr", "ar", "ary", "en", "es", "und"]
LATIN_CANDIDATES: tuple[Lang, ...] = ("fr", "en", "es")

CUES_PATH = Path(__file__).with_name("cues.yml")
VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüÿœæáíóú")


@dataclass(frozen=True)
class _Pattern:
    """A morphological cue: a word of `min_length`+ letters with one of the prefixes/suffixes."""

    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    min_length: int
    weight: float
    exceptions: tuple[str, ...]
    then_consonant: bool = False  # the letter after the prefix must be a consonant or digit
    # what follows the prefix is one of these: يبدو، تدعو are MSA, not the Darija plural -u
    stem_exceptions: frozenset[str] = frozenset()
    # a word of this shape (a whole-word regular expression) is not counted: كتعبير (ka- +
    # the MSA verbal noun taf3il, "as an expression") is not the Darija prefix ka-
    exception_shape: re.Pattern[str] | None = None

    def weight_of(self, word: str) -> float:
        if (
            len(word) >= self.min_length
            and word.startswith(self.prefixes)
            and (not self.suffixes or word.endswith(self.suffixes))
            and not (self.exceptions and word.startswith(self.exceptions))
            and (not self.then_consonant or self._consonant_follows(word))
            and not (self.stem_exceptions and self._after_prefix(word) in self.stem_exceptions)
            and not (self.exception_shape and self.exception_shape.fullmatch(word))
        ):
            return self.weight
        return 0.0

    def _after_prefix(self, word: str) -> str:
        for prefix in self.prefixes:
            if word.startswith(prefix):
                return word[len(prefix) :]
        return word

    def _consonant_follows(self, word: str) -> bool:
        for prefix in self.prefixes:
            if word.startswith(prefix):
                return word[len(prefix)] not in VOWELS
        return False


@dataclass(frozen=True)
class Cues:
    """The lexicon of cues.yml, normalised for matching."""

    ar_darija: Mapping[str, float]
    ar_patterns: tuple[_Pattern, ...]
    ar_msa: Mapping[str, float]
    ar_verbs: Mapping[str, float]  # generated Darija verb forms (ka-/ta-/gha- + person + stem...)
    ar_ignore: frozenset[str]  # MSA words the rules would misread: وليه (his guardian)
    ar_clitics: tuple[tuple[str, frozenset[str]], ...]  # proclitic -> hosts: فهادشي، لمزيان
    ar_clitic_min_stem: int
    ar_msa_clitics: tuple[str, ...]  # proclitics before an MSA function word: وهذا، فلماذا
    ar_variants: Mapping[int, str]  # spelling variants folded for lookups: هاذا = هادا
    ar_modals: frozenset[str]  # يقدر، يمكن ... + a bare imperfect (no أن): يقدر يكون
    ar_modal_weight: float
    ar_phrases: frozenset[tuple[str, str]]  # two common words that make a Darija expression
    ar_phrase_weight: float
    lat_darija: Mapping[str, float]
    lat_patterns: tuple[_Pattern, ...]
    lat_greetings: frozenset[str]
    lat_onsets_allowed: frozenset[str]
    lat_onset_weight: float
    lat_onset_min_length: int
    arabizi_digits: frozenset[str]
    latin_votes: Mapping[str, tuple[tuple[Lang, float], ...]]  # word -> (language, vote)
    shared: frozenset[str]


# --------------------------------------------------------------------------- lexicon loading


def _norm_word(word: object) -> str:
    if not isinstance(word, str):  # e.g. an unquoted yes/no that YAML read as a boolean
        raise ValueError(f"{CUES_PATH.name}: {word!r} is not a word; quote it")
    return normalize_arabic(clean(word)).lower()


def _words(items: Iterable[object] | None) -> tuple[str, ...]:
    return tuple(_norm_word(item) for item in items or ())


def _weights(section: Mapping[str, Any] | None) -> dict[str, float]:
    section = section or {}
    out: dict[str, float] = {}
    for word in _words(section.get("weak")):
        out[word] = 0.5
    for word in _words(section.get("medium")):
        out[word] = 0.75
    for key in ("strong", "hosts", "article_hosts"):
        for word in _words(section.get(key)):
            out[word] = 1.0
    return out


def _clitics(ar: Mapping[str, Any]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each proclitic with the words it may stand before, longest proclitic first."""
    nouns = frozenset(_words(ar.get("article_hosts")))
    hosts = frozenset(_words(ar.get("hosts"))) | nouns
    pairs = [(clitic, hosts) for clitic in _words(ar.get("clitics"))]
    pairs += [(clitic, nouns) for clitic in _words(ar.get("article_clitics"))]
    return tuple(sorted(pairs, key=lambda pair: len(pair[0]), reverse=True))


def _longest_first(items: Iterable[object] | None) -> tuple[str, ...]:
    return tuple(sorted(_words(items), key=len, reverse=True))


def _patterns(raw: Iterable[Mapping[str, Any]] | None) -> tuple[_Pattern, ...]:
    return tuple(
        _Pattern(
            prefixes=_words(item.get("prefixes")) or ("",),
            suffixes=_words(item.get("suffixes")),
            min_length=int(item.get("min_length", 1)),
            weight=float(item.get("weight", 1.0)),
            exceptions=_words(item.get("exceptions")),
            then_consonant=bool(item.get("then_consonant", False)),
            stem_exceptions=frozenset(_words(item.get("stem_exceptions"))),
            exception_shape=_shape(item.get("exception_shape")),
        )
        for item in raw or ()
    )


def _pair(phrase: object) -> tuple[str, str]:
    first, second = _norm_word(phrase).split()
    return first, second


def _shape(regex: object) -> re.Pattern[str] | None:
    return re.compile(_norm_word(regex)) if regex else None


def _verb_forms(raw: Mapping[str, Any] | None) -> dict[str, float]:
    """Every form of the `verbs` section: the Darija present/future of each listed stem.

    aspect (ka-/ta-/gha-) + person (n-/t-/y-) + stem + optional ending: كنمشي، تيقولو،
    غاتشوف، كيبغيوه; person + stem (3+ letters) + the plural -u without alef, which MSA never
    writes: يمشيو، تعرفو (and -uwa after a stem ending in ي: يمشيوا, MSA يمشوا); and the
    past plural without alef of `past_stems`: كانو، قالو، مشاو (MSA كانوا، قالوا، مشوا); and
    person + one of `bare_stems`, verbs MSA does not have, even without aspect: نشوف، تصيفط.
    """
    raw = raw or {}
    weight = float(raw.get("weight", 1.0))
    plural_weight = float(raw.get("plural_weight", weight))
    stems = _words(raw.get("stems")) + _words(raw.get("bare_stems"))
    endings = ("", *_words(raw.get("endings")))
    skip = {tuple(_words(pair)) for pair in raw.get("skip_pairs") or ()}
    forms: dict[str, float] = {}
    for aspect in _words(raw.get("aspects")):
        for person in _words(raw.get("persons")):
            if (aspect, person) in skip:
                continue
            for stem in stems:
                for ending in endings:
                    forms[aspect + person + stem + ending] = weight
    for person in _words(raw.get("persons")):
        for stem in stems:
            # not after a stem ending in و (يدعو، يبدو) or of two letters (يحلو، يشدو، يحبو:
            # MSA verbs whose root ends in و)
            if stem.endswith("\u0648") or len(stem) < 3:
                continue
            forms.setdefault(person + stem + "\u0648", plural_weight)
            if stem.endswith("\u064a"):
                forms.setdefault(person + stem + "\u0648\u0627", plural_weight)
    for person in _words(raw.get("persons")):  # stems no MSA verb has: نشوف، تصيفط
        for stem in _words(raw.get("bare_stems")):
            for ending in endings:
                forms.setdefault(person + stem + ending, weight)
    for stem in _words(raw.get("past_stems")):
        forms.setdefault(stem + "\u0648", weight)
    for form in _words(raw.get("not_forms")):  # MSA words the generation happens to make
        forms.pop(form, None)
    return forms


def load_cues(path: Path = CUES_PATH) -> Cues:
    """Read and normalise the cue lexicon (fails loudly: a broken lexicon is a deploy error)."""
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    ar = raw["darija_arabic"]
    lat = raw["darija_latin"]
    words = raw.get("latin_words") or {}
    shared = frozenset(_words(words.get("shared")))
    owners: dict[str, set[str]] = {}
    for lang in LATIN_CANDIDATES:
        for word in _words(words.get(lang)):
            owners.setdefault(word, set()).add(lang)
    latin_votes: dict[str, tuple[tuple[Lang, float], ...]] = {
        word: tuple((lang, 1.0 / len(langs)) for lang in LATIN_CANDIDATES if lang in langs)
        for word, langs in owners.items()
        if word not in shared
    }
    variants = {ord(_norm_word(src)): _norm_word(dst) for src, dst in (ar.get("variants") or {}).items()}
    return Cues(
        ar_darija=_weights(ar),
        ar_patterns=_patterns(ar.get("patterns")),
        ar_msa=_weights(raw.get("msa_arabic")),
        ar_verbs=_verb_forms(ar.get("verbs")),
        ar_ignore=frozenset(_words(ar.get("ignore"))),
        ar_clitics=_clitics(ar),
        ar_clitic_min_stem=int(ar.get("clitic_min_stem", 3)),
        ar_msa_clitics=_longest_first((raw.get("msa_arabic") or {}).get("clitics")),
        ar_variants=variants,
        ar_modals=frozenset(_words(ar.get("modals"))),
        ar_modal_weight=float(ar.get("modal_weight", 0.5)),
        ar_phrases=frozenset(_pair(phrase) for phrase in ar.get("phrases") or ()),
        ar_phrase_weight=float(ar.get("phrase_weight", 0.5)),
        lat_darija=_weights(lat),
        lat_patterns=_patterns(lat.get("patterns")),
        lat_greetings=frozenset(_words(lat.get("greetings"))),
        lat_onsets_allowed=frozenset(_words(lat.get("onsets_allowed"))),
        lat_onset_weight=float(lat.get("onset_weight", 0.5)),
        lat_onset_min_length=int(lat.get("onset_min_length", 3)),
        arabizi_digits=frozenset(str(lat.get("arabizi_digits", "235789"))),
        latin_votes=latin_votes,
        shared=shared,
    )
