"""Text normalisation shared by the language detector and the Rasa NLU pipeline.

Owns two pure, fast string functions: `clean` (Unicode hygiene every incoming message gets:
NFC, no invisible or control characters, tidy whitespace) and `normalize_arabic` (orthographic
folding of Arabic script so that spelling variants of one word compare equal). Both run on every
message and every training example, so they are built on `str.translate` tables made once and
have an ASCII fast path. Neither lowercases: callers that want case folding do it themselves.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean", "normalize_arabic"]

# Invisible format characters that change nothing a reader sees but break word matching:
# zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings/overrides (U+202A-U+202E),
# bidi isolates (U+2066-U+2069), BOM/zero-width no-break space, Arabic letter mark, plus the
# soft hyphen and the word joiner/invisible operators (U+2060-U+2064) that copy-paste brings.
_INVISIBLE = (
    list(range(0x200B, 0x2010))
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
    + list(range(0x2060, 0x2065))
    + [0xFEFF, 0x061C, 0x00AD]
)
# C0 controls except tab/newline (a carriage return becomes a newline, vertical tab and form
# feed become spaces), DEL and the C1 block.
_CONTROLS = [c for c in range(0x00, 0x20) if c not in (0x09, 0x0A, 0x0B, 0x0C, 0x0D)]
_CONTROLS += list(range(0x7F, 0xA0))

_CLEAN_TABLE: dict[int, str | None] = dict.fromkeys(_INVISIBLE + _CONTROLS)
_CLEAN_TABLE.update({0x0D: "\n", 0x0B: " ", 0x0C: " "})

_SPACE_RUN = re.compile(r"[^\S\n]+")  # whitespace without a newline (includes NBSP, U+202F)
_NEWLINE_RUN = re.compile(r" ?\n[\s]*")  # a line break with the blanks around it

# Arabic orthographic folding. The choices follow common practice in Arabic IR and NLU:
#  - tashkeel (U+064B-U+0652) and the dagger alef (U+0670) are optional and mostly absent in
#    chat, so they are dropped; tatweel (U+0640) is decoration;
#  - hamzated and wasla alef forms (أ إ آ ٱ) -> bare alef ا: users type them inconsistently;
#  - alef maqsura ى -> ي: in Moroccan and Egyptian typing the two are used interchangeably;
#  - ta marbuta ة -> ه: it is often typed as ه (e.g. "مدرسه"), and the reverse never hurts;
#  - hamza on waw/ya (ؤ ئ) -> و ي: users drop the hamza seat marks; the bare hamza ء stays;
#  - Eastern Arabic (U+0660-U+0669) and Persian (U+06F0-U+06F9) digits -> ASCII digits;
#  - Arabic comma, semicolon and question mark -> ASCII punctuation;
#  - Persian keh/yeh (ک ی) -> Arabic kaf/ya, as typed on Persian or Urdu keyboards.
# Moroccan letters ڭ (g) and ڤ (v) are kept: they carry meaning and mark Darija.
_ARABIC_TABLE: dict[int, str | None] = dict.fromkeys([*range(0x064B, 0x0653), 0x0670, 0x0640])
_ARABIC_TABLE.update({ord(c): "\u0627" for c in "\u0623\u0625\u0622\u0671"})
_ARABIC_TABLE.update(
    {
        0x0649: "\u064a",  # ى -> ي
        0x0629: "\u0647",  # ة -> ه
        0x0624: "\u0648",  # ؤ -> و
        0x0626: "\u064a",  # ئ -> ي
        0x06A9: "\u0643",  # ک -> ك
        0x06CC: "\u064a",  # ی -> ي
        0x060C: ",",  # ،
        0x061B: ";",  # ؛
        0x061F: "?",  # ؟
    }
)
_ARABIC_TABLE.update({0x0660 + d: str(d) for d in range(10)})
_ARABIC_TABLE.update({0x06F0 + d: str(d) for d in range(10)})


def clean(text: str) -> str:
    """NFC, drop invisible/bidi/control characters, collapse whitespace, strip."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = text.translate(_CLEAN_TABLE)
    text = _SPACE_RUN.sub(" ", text)
    if "\n" in text:
        text = _NEWLINE_RUN.sub("\n", text)
    return text.strip()


def normalize_arabic(text: str) -> str:
    """Fold Arabic spelling variants (see the table above); Latin text is returned unchanged."""
    if text.isascii():
        return text
    return text.translate(_ARABIC_TABLE)
