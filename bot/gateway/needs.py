"""Several needs in one message: cut a long message into parts, find the topic of each part.

A person who writes "they are putting us out of the flat, my boss has not paid me for two
months, my wife is pregnant and my son is not at school" has four questions. The model gives a
whole message one intent, often the wrong one (an average of four topics is none of them). The
gateway therefore cuts long messages into parts (`segments`), asks Rasa's NLU for each part's
topic (`/model/parse`, which changes no conversation), and `plan` decides:

- which topic the dialogue answers: the whole message's own when it is one of the parts' (or
  when nothing better was found), else the topic of the clearest part. The whole message always
  goes to the dialogue (the hotline reads the person's own words); a chosen part's topic travels
  as metadata (`faq_topic`, applied by nlu.components.MetadataHints);
- which other topics are offered as buttons under the answer ("Also: housing · work · school").

Danger words are handled before all this (the urgent reply comes first whatever the parts say);
the other needs are still offered after it. Pure functions, no I/O: the engine does the calls.
Measured against whole-message answers in docs/nlu.md ("Several needs in one message").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_OFFERS", "MIN_WORDS", "Plan", "plan", "segments", "topic_of"]

MIN_WORDS = 8  # shorter messages are one need
MIN_PART_WORDS = 3  # a shorter part is merged with its neighbour
MAX_PARTS = 6  # at most this many parses per message (each ~40 ms on this machine)
MAX_OFFERS = 3  # buttons under the answer
MIN_CONFIDENCE = 0.7  # a part's topic counts only when the classifier is this sure

# Sentence ends and clause separators, then words that join two needs in the five ways of
# writing ("et", "and", "w", "و", "aussi", "also", "kaman", "حتى", ...). Arabic "و" is often glued to
# the next word ("وابني"): only a free-standing "و" cuts.
_SENTENCE = re.compile(r"[.!?؟;؛\n]+|[,،](?=\s)")
_JOIN = re.compile(
    r"\s(?:et|and|mais|but|aussi|also|plus|puis|then|w|ou|o|et puis|and also|و|ثم|كذلك|أيضا|ايضا|حتى|zid|ou bien)\s",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def segments(text: str) -> list[str]:
    """The parts of a long message, in order; [] when it is one need (short, or one part)."""
    if _words(text) < MIN_WORDS:
        return []
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        pieces += [p.strip() for p in _JOIN.split(" " + sentence + " ") if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and (_words(piece) < MIN_PART_WORDS or _words(merged[-1]) < MIN_PART_WORDS):
            merged[-1] = merged[-1] + " " + piece
        else:
            merged.append(piece)
    if merged and len(merged) > 1 and _words(merged[-1]) < MIN_PART_WORDS:
        merged[-2:] = [merged[-2] + " " + merged[-1]]
    if len(merged) < 2:
        return []
    if len(merged) > MAX_PARTS:  # join neighbours, shortest pairs first, until few enough
        while len(merged) > MAX_PARTS:
            i = min(range(len(merged) - 1), key=lambda k: _words(merged[k]) + _words(merged[k + 1]))
            merged[i : i + 2] = [merged[i] + " " + merged[i + 1]]
    return merged


def topic_of(parse: Mapping[str, Any], min_confidence: float = MIN_CONFIDENCE) -> tuple[str, float] | None:
    """The FAQ topic id and confidence of one `/model/parse` result, if it is clear enough."""
    intent = parse.get("intent") or {}
    if intent.get("name") != "faq":
        return None
    selector = ((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    key = str(selector.get("intent_response_key") or "")
    confidence = min(float(intent.get("confidence") or 0.0), float(selector.get("confidence") or 1.0))
    if not key.startswith("faq/") or confidence < min_confidence:
        return None
    return key.split("/", 1)[1], confidence


@dataclass(frozen=True)
class Plan:
    """What to send to the dialogue (`text`) and which other topics to offer."""

    text: str
    topic: str | None  # the topic expected to be answered (None: whatever the dialogue decides)
    offers: tuple[str, ...]


def plan(
    text: str,
    whole: Mapping[str, Any] | None,
    parts: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    urgent: bool = False,
    min_confidence: float = MIN_CONFIDENCE,
) -> Plan:
    """Choose the answered part and the offers from the parses of the whole and of each part.

    `whole` is the parse of the whole message (None if unknown); `parts` pairs each segment with
    its parse. An urgent message always goes whole (the danger words must reach the dialogue).
    """
    found: list[tuple[str, str, float]] = []  # (topic, part text, confidence), first mention first
    for part, parse in parts:
        hit = topic_of(parse, min_confidence)
        if hit is None:
            continue
        topic, confidence = hit
        if any(topic == t for t, _, _ in found):
            continue
        found.append((topic, part, confidence))
    whole_hit = topic_of(whole, 0.0) if whole is not None else None
    whole_topic = whole_hit[0] if whole_hit else None
    if urgent or not found or any(t == whole_topic for t, _, _ in found):
        main_text, main_topic = text, whole_topic
    else:
        best = max(found, key=lambda f: f[2])
        main_text, main_topic = best[1], best[0]
    offers = tuple(t for t, _, _ in found if t != main_topic)[:MAX_OFFERS]
    return Plan(main_text, main_topic, offers)
