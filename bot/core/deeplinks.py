"""Telegram deep links `https://t.me/<bot>?start=<payload>`: one definition for the gateway that
reads them and `dalil links` that prints them (docs/contract.md)."""

from __future__ import annotations

import re

PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Telegram's rule for a ?start= payload
TOPIC_PREFIX, LANG_PREFIX = "t_", "l_"  # t_<topic id> opens a topic, l_<code> sets the language
