"""The `/stats` chart: a PNG of the daily figures, drawn with matplotlib.

Two panels: messages and people per day over the period (people counted once a day), and the
most asked FAQ topics as horizontal bars. matplotlib is imported inside `render` (Agg, no
display): the gateway pays its import (a second, tens of MB) only when an admin asks, and
`render_async` draws in a thread so the event loop keeps answering people meanwhile.

matplotlib draws Arabic letters unjoined and left to right: an Arabic admin gets the chart's
words in French (the figures' text, sent with it, is in Arabic).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from bot.storage.figures import Summary

TOP_TOPICS = 8


@dataclass(frozen=True)
class Labels:
    """The chart's words, in one language (content/messages_figures.yml)."""

    title: str
    messages: str
    people: str
    topics: str
    empty: str


def render(summary: Summary, labels: Labels) -> bytes:
    """The chart as PNG bytes (blocking: call `render_async` from the event loop)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure  # no pyplot: no global state, nothing to close

    figure = Figure(figsize=(9, 7.5), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": (3, 2)})
    days = summary.days
    top.plot(days, summary.series("messages"), marker="o", markersize=3, label=labels.messages, color="#1f6feb")
    top.plot(days, summary.series("people"), marker="o", markersize=3, label=labels.people, color="#d97706")
    top.set_title(labels.title)
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    top.xaxis.set_major_formatter(DateFormatter("%d/%m"))
    top.tick_params(axis="x", labelrotation=45)
    topics = summary.keys.get("topics")
    bottom.set_title(labels.topics)
    if topics:
        names, counts = zip(*reversed(topics.most_common(TOP_TOPICS)), strict=True)
        bottom.barh(list(names), list(counts), color="#16a34a")
        bottom.grid(axis="x", alpha=0.3)
    else:
        bottom.text(0.5, 0.5, labels.empty, ha="center", va="center", transform=bottom.transAxes)
        bottom.set_axis_off()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def render_async(summary: Summary, labels: Labels) -> bytes:
    return await asyncio.to_thread(render, summary, labels)
