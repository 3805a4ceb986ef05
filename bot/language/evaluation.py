"""Measure the language detector on real, held-out text (SIB-200/FLORES and DODa).

Owns reading the evaluation folder (outside the project; `make eval-lang` passes `../shared/data/langid`), turning
it into labelled items (whole sentences, plus their first 1, 2 and 3 words as short items), and
the per-language report: strict accuracy, `und` share, wrong-answer rate and throughput. The data
is only read from that folder, never copied into the project.

    python -m bot.language.evaluation FOLDER [--split all|dev|holdout] [--compare]

`dev` is the even rows of every file and `holdout` the odd rows: thresholds are chosen on `dev`
and checked on `holdout` (docs/language.md). `--compare` also evaluates the detector with the
langdetect backend and each statistical backend alone.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.language.detector import Backend, BackendName, Detector, get_detector

__all__ = [
    "Item",
    "Report",
    "Row",
    "evaluate",
    "evaluate_backend_alone",
    "format_markdown",
    "load_items",
    "main",
]

Split = Literal["all", "dev", "holdout"]


# SIB-200 file name -> label (column `text`)
_SIB_FILES = {
    "sib200_test_fra_Latn.tsv": "fr",
    "sib200_test_eng_Latn.tsv": "en",
    "sib200_test_arb_Arab.tsv": "ar",
    "sib200_test_ary_Arab.tsv": "ary",
}
_DODA_FILE = "doda_sentences_en_ary-Latn.csv"
_DODA_COLUMNS = {"english": "en", "darija": "ary"}
LANG_ORDER = ("fr", "en", "ar", "ary")
SHORT_WORDS = (1, 2, 3)


@dataclass(frozen=True)
class Item:
    """One labelled text: a full sentence, or its first 1, 2 or 3 words (`short`)."""

    text: str
    label: str
    source: str  # e.g. "sib200", "doda"
    short: bool


@dataclass(frozen=True)
class Row:
    """Figures for one (language, source) pair, or the language total when source is "all"."""

    lang: str
    source: str
    n: int
    accuracy: float
    und: float
    wrong: float
    short_n: int
    short_accuracy: float
    short_und: float
    short_wrong: float
    wrong_all: float  # wrong answers over full sentences and short items together


@dataclass(frozen=True)
class Report:
    """What `evaluate` measured; `format_markdown` renders it."""

    backend: str
    split: str
    rows: tuple[Row, ...]
    items: int
    messages_per_second: float


def _keep(index: int, split: Split) -> bool:
    return split == "all" or (index % 2 == 0) == (split == "dev")


def _with_short(text: str, label: str, source: str) -> Iterable[Item]:
    yield Item(text, label, source, short=False)
    words = text.split()
    for count in SHORT_WORDS:
        if len(words) >= count:
            yield Item(" ".join(words[:count]), label, source, short=True)


def load_items(folder: Path, split: Split = "all") -> list[Item]:
    """Read every evaluation file present in folder into labelled items."""
    items: list[Item] = []
    for name, label in _SIB_FILES.items():
        path = folder / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for index, record in enumerate(reader):
                if _keep(index, split):
                    items.extend(_with_short(record["text"], label, "sib200"))
    path = folder / _DODA_FILE
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as handle:
            for index, record in enumerate(csv.DictReader(handle)):
                if _keep(index, split):
                    for column, label in _DODA_COLUMNS.items():
                        items.extend(_with_short(record[column], label, "doda"))
    if not items:
        raise FileNotFoundError(f"no evaluation files in {folder}")
    return items


def _figures(pairs: Sequence[tuple[Item, str]]) -> tuple[int, float, float, float]:
    n = len(pairs)
    if not n:
        return 0, 0.0, 0.0, 0.0
    right = sum(item.label == got for item, got in pairs)
    und = sum(got == "und" for _, got in pairs)
    return n, right / n, und / n, (n - right - und) / n


def _rows(results: Sequence[tuple[Item, str]]) -> tuple[Row, ...]:
    rows: list[Row] = []
    for lang in LANG_ORDER:
        mine = [pair for pair in results if pair[0].label == lang]
        sources = sorted({item.source for item, _ in mine})
        for source in [*sources, "all"] if len(sources) > 1 else sources:
            part = [p for p in mine if source == "all" or p[0].source == source]
            full = _figures([p for p in part if not p[0].short])
            short = _figures([p for p in part if p[0].short])
            rows.append(Row(lang, source, *full, *short, _figures(part)[3]))
    return tuple(rows)


def _timed(classify: Callable[[str], str], items: Sequence[Item]) -> tuple[list[str], float]:
    """Labels, and messages per second of CPU time (one core; immune to a busy machine)."""
    texts = [item.text for item in items]
    start = time.process_time()
    labels = [classify(text) for text in texts]
    elapsed = time.process_time() - start
    return labels, len(texts) / elapsed if elapsed else float("inf")


def evaluate(
    folder: Path,
    *,
    detector: Detector | None = None,
    split: Split = "all",
) -> Report:
    """Run the detector over every item of folder and measure it."""
    items = load_items(folder, split)
    detector = detector or get_detector()
    detector.detect("warm up")  # the model is loaded before the clock starts
    labels, rate = _timed(lambda text: detector.detect(text).lang, items)
    return Report(
        backend=detector.backend.name,
        split=split,
        rows=_rows(list(zip(items, labels, strict=True))),
        items=len(items),
        messages_per_second=rate,
    )


def evaluate_backend_alone(folder: Path, backend: Backend, split: Split = "all") -> Report:
    """The statistical backend alone: argmax over fr/en/es/ar, no cues, no gate.

    It cannot say `ary`, so Darija items count as right when it answers `ar` in this report
    only; the point is to compare backends on what they can do.
    """
    items = load_items(folder, split)

    def classify(text: str) -> str:
        scores = backend.scores(text)
        best = max(("fr", "en", "es", "ar"), key=scores.__getitem__)
        return "und" if scores[best] == 0.0 else best

    classify("warm up")
    labels, rate = _timed(classify, items)
    as_ar = ["ary" if item.label == "ary" and got == "ar" else got for item, got in zip(items, labels, strict=True)]
    return Report(
        backend=f"{backend.name} alone",
        split=split,
        rows=_rows(list(zip(items, as_ar, strict=True))),
        items=len(items),
        messages_per_second=rate,
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def format_markdown(report: Report) -> str:
    """The report as a markdown table (percentages) with the throughput line."""
    lines = [
        f"Backend: {report.backend}; split: {report.split}; {report.items} items; "
        f"{report.messages_per_second:,.0f} messages/s (one core).",
        "",
        "| lang | source | sentences | accuracy % | und % | wrong % "
        "| 1-3 words | accuracy % | und % | wrong % | wrong % (both) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        name = f"**{row.lang}**" if row.source == "all" else row.lang
        lines.append(
            f"| {name} | {row.source} | {row.n} | {_pct(row.accuracy)} | {_pct(row.und)} "
            f"| {_pct(row.wrong)} | {row.short_n} | {_pct(row.short_accuracy)} "
            f"| {_pct(row.short_und)} | {_pct(row.short_wrong)} | {_pct(row.wrong_all)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print the markdown report for a folder (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bot.language.evaluation", description=__doc__)
    parser.add_argument("folder", type=Path, help="the language-id data (make eval-lang passes $(LANGID))")
    parser.add_argument("--split", choices=("all", "dev", "holdout"), default="all")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also evaluate the langdetect backend and both backends alone (slower)",
    )
    args = parser.parse_args(argv)
    print(format_markdown(evaluate(args.folder, split=args.split)))
    if args.compare:
        print()
        langdetect = get_detector("langdetect")
        print(format_markdown(evaluate(args.folder, detector=langdetect, split=args.split)))
        names: tuple[BackendName, ...] = ("fasttext", "langdetect")
        for name in names:
            print()
            backend = get_detector(name).backend
            print(format_markdown(evaluate_backend_alone(args.folder, backend, args.split)))


if __name__ == "__main__":
    main()
