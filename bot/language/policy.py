"""Which language to answer in: a pure decision from a detection and the user's remembered state.

Owns the rules that turn `bot.language.detector.Detection` plus `UserLanguage` (what we remember about a
user) into a `Decision`: the reply language (fr, ar or en; None means "show the language
keyboard"), whether to use Darija wording, and the state to remember. No I/O, no clock: the
caller loads and stores the state. The rules, in order:

1. An explicit choice (/start keyboard, /language, the change_language intent) wins over short or
   ambiguous messages: "ok merci" from a user who chose Arabic stays Arabic. A full sentence
   (`FOLLOW_MIN_WORDS` words or more) confidently in another answer language follows the person:
   it is answered in that language, which becomes the choice, and `Decision.followed_from` names
   the language left so the caller can say in one line how to switch back. Darija in Latin
   letters never overrides a choice: someone who chose French and types Arabizi may not read
   Arabic script.
2. Without a choice, a detected fr/ar/en/ary message is answered in its language (Darija is
   answered in Arabic with Darija wording). Switching away from the current language needs a
   confident detection; a first message detected with low confidence takes the Telegram
   language_code prior (fr/ar/en) when there is one.
3. Spanish and `und` keep the current language, else the Telegram prior, else we ask once with
   the keyboard, else French.

Arabic script settles the reply language even when MSA-vs-Darija is uncertain: the detector's
confidence for a short Arabic message is about the variety, not about Arabic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.core.languages import ANSWER_LANGS, DEFAULT_LANG, AnswerLang, is_answer_lang
from bot.language.detector import Detection

__all__ = [
    "FOLLOW_MIN_WORDS",
    "REPLY_LANGS",
    "Decision",
    "ReplyLang",
    "UserLanguage",
    "decide",
    "telegram_prior",
    "word_count",
]

# The reply languages are the answer languages (bot/core/languages.py), under the policy's names.
ReplyLang = AnswerLang
REPLY_LANGS = ANSWER_LANGS
DEFAULT_REPLY: ReplyLang = DEFAULT_LANG
# A message of this many words or more, confidently in another answer language, overrides an
# explicit choice ("ok", "merci beaucoup", "thank you so much", "je cherche un medecin" do not).
FOLLOW_MIN_WORDS = 5
FOLLOW_MIN_CONFIDENCE = 0.9
_WORD = re.compile(r"[^\W\d_]{2,}")
# Detected language -> reply language; es and und have none (we do not answer in Spanish).
_REPLY_FOR: dict[str, ReplyLang] = {"fr": "fr", "en": "en", "ar": "ar", "ary": "ar"}


@dataclass(frozen=True)
class UserLanguage:
    """What we remember about a user's language between messages."""

    chosen: str | None = None  # explicit choice: "fr" | "ar" | "en"
    current: str | None = None  # language of the last answers
    darija: bool = False  # the user has been writing Darija
    telegram_code: str | None = None  # Telegram's language_code, e.g. "fr", "en-US"
    asked: bool = False  # we already showed the language keyboard once


@dataclass(frozen=True)
class Decision:
    """The reply language (None: show the language keyboard), Darija wording, state to keep."""

    reply: str | None
    darija: bool
    state: UserLanguage
    followed_from: str | None = None  # the explicit choice this message overrode, if any


def word_count(text: str) -> int:
    """Words of two letters or more (digits, emoji and one-letter tokens do not count)."""
    return len(_WORD.findall(text))


def telegram_prior(code: str | None) -> ReplyLang | None:
    """The reply language suggested by Telegram's language_code ("en-US" -> "en"), if any."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if is_answer_lang(base) else None


def _reply_confidence(detection: Detection) -> float:
    # Arabic letters (all of them, or most of a mixed message: the detector judges a mixed
    # message on its majority script) settle "answer in Arabic"; the confidence of ar/ary
    # only weighs MSA against Darija, which changes wording, not the language.
    if detection.lang in ("ar", "ary") and detection.script in ("arabic", "mixed"):
        return 1.0
    return detection.confidence


def _darija_after(detection: Detection, state: UserLanguage, min_confidence: float) -> bool:
    if detection.lang == "ary":
        return True
    if detection.lang == "ar" and detection.confidence >= min_confidence:
        return False  # confidently MSA: the user writes Modern Standard Arabic now
    return state.darija  # short or non-Arabic messages say nothing about Darija


def decide(
    detection: Detection,
    state: UserLanguage,
    *,
    min_switch_confidence: float = 0.7,
    words: int = 0,
) -> Decision:
    """Decide the reply language for one message (rules in the module docstring); `words` is
    the message's `word_count`, which decides whether it may override an explicit choice."""
    darija = _darija_after(detection, state, min_switch_confidence)
    chosen = state.chosen if state.chosen in REPLY_LANGS else None
    detected = _REPLY_FOR.get(detection.lang)
    if (
        chosen is not None
        and detected is not None
        and detected != chosen
        and words >= FOLLOW_MIN_WORDS
        and _reply_confidence(detection) >= FOLLOW_MIN_CONFIDENCE
        and not (detection.lang == "ary" and detection.script == "latin")
    ):
        new_state = replace(state, chosen=detected, current=detected, darija=darija)
        return Decision(detected, detected == "ar" and darija, new_state, followed_from=chosen)
    if chosen is not None:
        new_state = replace(state, current=chosen, darija=darija)
        return Decision(chosen, chosen == "ar" and darija, new_state)

    current = state.current if state.current in REPLY_LANGS else None
    prior = telegram_prior(state.telegram_code)
    confident = _reply_confidence(detection) >= min_switch_confidence
    reply: str | None
    asked = state.asked

    if detected is not None:
        if current is None:
            if confident:
                reply = detected
            elif prior is not None:
                reply = prior  # first message, unsure detection: Telegram's language
            elif not asked:
                reply, asked = None, True
            else:
                reply = detected
        elif detected == current or confident:
            reply = detected
        else:
            reply = current  # an unsure switch is not followed
    elif current is not None:
        reply = current
    elif prior is not None:
        reply = prior
    elif not asked:
        reply, asked = None, True
    else:
        reply = DEFAULT_REPLY

    new_state = replace(state, current=reply or current, darija=darija, asked=asked)
    return Decision(reply, reply == "ar" and darija, new_state)
