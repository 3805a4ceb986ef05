"""Logging set-up shared by every Dalil process.

Privacy rule: nothing at INFO or above contains message text, names, phone numbers or tokens.
Libraries that log request URLs (httpx puts the bot token in the URL) are kept at WARNING.
"""

from __future__ import annotations

import logging
import sys

QUIET = ("httpx", "httpcore", "telegram", "telegram.ext", "apscheduler", "aiosqlite", "alembic.runtime.migration")


def setup(level: str = "INFO", *, name: str = "dalil") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for logger in QUIET:
        logging.getLogger(logger).setLevel(max(logging.WARNING, logging.getLogger().level))
