"""The languages Dalil answers in and the ways people write to it: the one place they are named.

Answers exist in French, Arabic and English (`AnswerLang`); Darija speakers get the Arabic answer
with Darija wording where the content has it. Questions are written five ways (`Writing`), the
keys of the FAQ's `questions` and of the held-out sets. Content files map a language to a text
(`{"fr": ..., "ar": ...}`); `lang_map` reads such a mapping the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeGuard

AnswerLang = Literal["fr", "ar", "en"]
ANSWER_LANGS: tuple[AnswerLang, ...] = ("fr", "ar", "en")
DEFAULT_LANG: AnswerLang = "fr"

Writing = Literal["fr", "ar", "ary_arab", "ary_latn", "en"]
QUESTION_LANGS: tuple[Writing, ...] = ("fr", "ar", "ary_arab", "ary_latn", "en")


def is_answer_lang(value: object) -> TypeGuard[AnswerLang]:
    return value in ANSWER_LANGS


def answer_lang(value: object, default: AnswerLang = DEFAULT_LANG) -> AnswerLang:
    """`value` when it is an answer language, else `default` (French unless told)."""
    return value if is_answer_lang(value) else default


def lang_map(value: object, *, plain: AnswerLang | None = None) -> dict[str, str]:
    """A {language: text} mapping as content files write it: texts stripped, empty ones left
    out. A plain string instead of a mapping is the text in `plain` (ignored when None)."""
    if isinstance(value, Mapping):
        texts = {str(k): "" if v is None else str(v).strip() for k, v in value.items()}
        return {k: v for k, v in texts.items() if v}
    if plain is not None and value is not None and str(value).strip():
        return {plain: str(value).strip()}
    return {}
