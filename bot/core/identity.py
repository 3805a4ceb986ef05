"""Pseudonyms: the keyed hash that stands for a person everywhere except the users table.

Rasa's tracker, statistics and logs only ever see `pseudonym(...)`, never a Telegram id, so a
leaked database or log does not name anyone. The key (DALIL_SECRET_KEY, or var/secret-key
created on first run) must stay the same for a user's history to stay together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def pseudonym(secret: str, kind: str, raw_id: int | str) -> str:
    """A stable, non-reversible id such as `u3f9k2m8q1z7x4c6v0b5`."""
    digest = hmac.new(secret.encode(), f"{kind}:{raw_id}".encode(), hashlib.sha256).digest()
    return "u" + base64.b32encode(digest[:15]).decode().lower()[:23]
