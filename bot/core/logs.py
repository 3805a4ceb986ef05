"""Logging set-up shared by every Dalil process.

Privacy rule: nothing at INFO or above contains message text, names, phone numbers or tokens.
Libraries that log request URLs (httpx puts the bot token in the URL) are kept at WARNING.
In terminal mode the log goes to a file (var/log/terminal.log), never between the lines of the
chat.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

QUIET = ("httpx", "httpcore", "telegram", "telegram.ext", "apscheduler", "aiosqlite", "alembic.runtime.migration")


def setup(level: str = "INFO", *, name: str = "dalil", path: Path | None = None) -> None:
    """Log records at `level` and above to stderr, or to the file `path` (appended)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    logging.captureWarnings(path is not None)  # library warnings too, in terminal mode
    for logger in QUIET:
        logging.getLogger(logger).setLevel(max(logging.WARNING, logging.getLogger().level))


def terminal_log(var_dir: Path) -> Path:
    """Where a terminal chat's log goes."""
    return var_dir / "log" / "terminal.log"
