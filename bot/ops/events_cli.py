"""`dalil events check`: fetch every events source now and say, per source, whether it is usable.

For admins publishing events: prints OK with the number of events and their date range, or the
error and its reason, and each entry that was skipped or is incomplete. Returns non-zero when a
source is broken, so it can run in CI or a cron job.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

import httpx

from bot.core.settings import Settings
from bot.events.model import CASABLANCA, SourceReport
from bot.events.providers import source_label
from bot.events.service import EventsService, parse_sources

MAX_PROBLEMS_SHOWN = 20


def check(sources: list[str] | None = None, *, out: TextIO | None = None, timeout: float = 10.0) -> int:
    """Check `sources` (default: EVENTS_URL, else events/events.yml); 0 when all are usable."""
    out = out or sys.stdout
    if sources is None:
        sources = parse_sources(Settings.from_env().events_url)
    reports = asyncio.run(_check(sources, timeout))
    for report in reports:
        print(describe(report), file=out)
    broken = [r for r in reports if not r.ok]
    print(f"{len(reports) - len(broken)}/{len(reports)} source(s) OK", file=out)
    return 1 if broken else 0


async def _check(sources: list[str], timeout: float) -> list[SourceReport]:
    async with httpx.AsyncClient(headers={"User-Agent": "Dalil events check"}) as http:
        service = EventsService(http, sources, timeout=timeout)
        return await service.check()


def describe(report: SourceReport) -> str:
    """A few lines for one source (operator-facing, English)."""
    label = source_label(report.source)
    if report.ok:
        span = ""
        if report.first and report.last:
            first = report.first.astimezone(CASABLANCA).date().isoformat()
            last = report.last.astimezone(CASABLANCA).date().isoformat()
            span = f", from {first} to {last}"
        sample = " (sample: demonstration examples)" if report.sample else ""
        lines = [f"OK     {label}: {report.count} event(s){span}{sample}"]
    else:
        lines = [f"ERROR  {label}: {report.error}"]
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        lines.append(f"       - {problem}")
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"       … and {len(report.problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)
