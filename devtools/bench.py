"""`dalil bench`: the real stack under load on this machine, with the figures printed as a table.

Starts Rasa (newest model) and the action server, then the gateway (`dalil gateway`, a real
process) against the fake Telegram Bot API (devtools/fake_telegram.py) served from this process, and
measures: end-to-end latency (update available -> first reply sent) for 1, 10 and 50 users who
each write again as soon as they are answered; throughput at saturation; the same load sent
straight to Rasa's REST channel (what the gateway costs); NLU parse latency; language detection
throughput; training time; time from `dalil run` to the first answer; resident memory.
Prints the table; `--write-docs` also writes it to docs/benchmarks.md (its notes kept), so a
run on a laptop does not replace the published figures by accident. Telegram's own limit
(30 messages/s per bot) is lifted in the gateway for the measurement (TELEGRAM_MAX_RATE),
otherwise it would be what is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.core.settings import Settings
from bot.gateway.rasa_client import RasaClient
from bot.ops.stack import isolated_env, kill_group, popen, stop_process, wait_http
from bot.ops.supervisor import actions_part, rasa_part
from bot.ops.training import latest_model
from devtools.fake_telegram import FakeTelegram

# A realistic mix: FAQ questions in the five ways of writing, events, greetings and thanks.
# (Written for the benchmark; not the held-out test set, not the training data.)
MIX: list[tuple[str, str]] = [
    ("fr", "bonjour"),
    ("fr", "comment je peux demander l'asile ici ?"),
    ("fr", "est-ce que les soins sont gratuits au centre de santé ?"),
    ("fr", "il y a des ateliers à Tanger ce mois-ci ?"),
    ("fr", "je voudrais rentrer chez moi avec l'OIM"),
    ("fr", "merci beaucoup"),
    ("ar", "السلام عليكم"),
    ("ar", "كيف أسجل ابني في المدرسة؟"),
    ("ar", "هل هناك أنشطة في الدار البيضاء؟"),
    ("ar", "أريد تجديد بطاقة الإقامة"),
    ("ary", "فين نقدر ندير التحليل ديال السيدا بلاش؟"),
    ("ary", "bghit nrje3 l bladi kifach ndir"),
    ("ary", "wach kayn chi nachat f rbat had simana"),
    ("en", "hello"),
    ("en", "how can I get free legal help?"),
    ("en", "are there workshops in Agadir next week?"),
]


CONVERSATION = 8  # messages per simulated person; then a new person (trackers stay realistic)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one when pid is None)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def describe_machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {system}, Python {platform.python_version()}"


@dataclass
class Load:
    label: str
    users: int
    latencies: list[float] = field(default_factory=list)  # seconds, first reply
    replies: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds during the load

    def cpu_per_reply(self) -> str:
        parts = [f"{name} {seconds * 1000 / self.replies:.1f}" for name, seconds in self.cpu.items() if self.replies]
        return ", ".join(parts)

    @property
    def throughput(self) -> float:
        return self.replies / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        ms = [x * 1000 for x in self.latencies]
        return (
            f"| {self.label} | {self.users} | {len(ms)} | {percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} | "
            f"{percentile(ms, 99):.0f} | {self.throughput:.1f} |"
        )


class Stack:
    """Rasa + actions (+ gateway) as real processes in a throwaway var dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.var = Path(tempfile.mkdtemp(prefix="dalil-bench-"))
        self.env = {
            **isolated_env(self.var),
            "RASA_TOKEN": secrets.token_urlsafe(16),
            "ACTION_TOKEN": secrets.token_urlsafe(16),
            "DALIL_SECRET_KEY": "bench",
            "FLOOD_BURST": "100000",  # synthetic users write back to back
            "TELEGRAM_MAX_RATE": "100000",
            "LOG_LEVEL": "WARNING",
        }
        self.settings = Settings.from_env(self.env, root=root)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start_rasa(self) -> float:
        model = latest_model(self.root / "models")
        if model is None:
            raise SystemExit("no trained model: run `dalil train` first")
        started = time.monotonic()
        for part in (actions_part(self.settings), rasa_part(self.settings, model)):
            self.procs[part.name] = popen(
                part.argv, env={**part.env, **self.env}, log_path=part.log_path, cwd=self.root
            )
        wait_http(
            f"{self.settings.rasa_url}/status",
            params={"token": self.settings.rasa_token},
            timeout=240,
            proc=self.procs["rasa"],
            log=self.var / "log" / "rasa.log",
            expect_model=True,
        )
        return time.monotonic() - started

    def start_gateway(self, api: FakeTelegram) -> None:
        env = dict(self.env, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_URL=api.base_url)
        self.procs["gateway"] = popen(
            [str(Path(sys.executable).with_name("dalil")), "gateway"],
            env=env,
            log_path=self.var / "log" / "gateway.log",
            cwd=self.root,
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each part, and of this process (load generator + fake Bot API)."""
        used = {name: cpu_seconds(proc.pid) for name, proc in self.procs.items() if proc.poll() is None}
        used["load generator + fake Bot API"] = cpu_seconds()
        return used

    def memory(self) -> dict[str, float]:
        return {name: rss_mb(proc.pid) for name, proc in self.procs.items() if proc.poll() is None}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                kill_group(proc.pid)
        for proc in self.procs.values():
            stop_process(proc)


async def bare_rasa(stack: Stack, users: int, seconds: float, memory: dict[str, float]) -> Load:
    """Closed-loop users posting straight to Rasa's REST channel."""
    load = Load("bare Rasa (REST)", users)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=60) as http:
        rasa = RasaClient(http, stack.settings.rasa_url, token=stack.settings.rasa_token)
        deadline = time.monotonic() + seconds

        async def user(n: int) -> None:
            i = n
            while time.monotonic() < deadline:
                sender = f"bare-{users}-{n}-{i // CONVERSATION}"
                lang, text = MIX[i % len(MIX)]
                i += 1
                started = time.monotonic()
                await rasa.send(sender, text, {"language": "ar" if lang == "ary" else lang, "darija": lang == "ary"})
                load.latencies.append(time.monotonic() - started)
                load.replies += 1

        await _run_load(load, stack, memory, user)
    return load


async def _run_load(load: Load, stack: Stack, memory: dict[str, float], user: Any) -> None:
    """Run `load.users` closed-loop users; record duration, peak memory and CPU used per part."""
    before = stack.cpu()
    started = time.monotonic()
    sampler = asyncio.create_task(_sample(stack, memory))
    await asyncio.gather(*(user(n) for n in range(load.users)))
    sampler.cancel()
    load.seconds = time.monotonic() - started
    after = stack.cpu()
    load.cpu = {
        name: after[name] - before.get(name, 0.0) for name in after if after[name] - before.get(name, 0.0) > 0.01
    }


async def _sample(stack: Stack, memory: dict[str, float]) -> None:
    while True:
        for name, mb in stack.memory().items():
            memory[name] = max(memory.get(name, 0.0), mb)
        await asyncio.sleep(0.5)


async def calibrate(api: FakeTelegram) -> dict[str, int]:
    """How many messages each mix item gets back (a greeting is a greeting and the menu)."""
    expected: dict[str, int] = {}
    for n, (lang, text) in enumerate(MIX):
        user = 900000 + n
        api.message(user, text, language_code="ar" if lang in ("ar", "ary") else lang)
        await api.wait_for(user, 1, timeout=60)
        expected[text] = len(await api.quiet(user, 1.5))
    return expected


async def through_gateway(
    api: FakeTelegram,
    users: int,
    seconds: float,
    expected: dict[str, int],
    stack: Stack,
    memory: dict[str, float],
    base: int,
) -> Load:
    """Closed-loop users writing on (fake) Telegram; latency = update available -> first reply sent."""
    load = Load("gateway + Rasa", users)
    deadline = time.monotonic() + seconds

    async def user(n: int) -> None:
        i = n
        got, chat = 0, 0
        while time.monotonic() < deadline:
            if chat != base + n * 10000 + i // CONVERSATION:  # a new person every few messages
                chat, got = base + n * 10000 + i // CONVERSATION, 0
            lang, text = MIX[i % len(MIX)]
            i += 1
            started = time.monotonic()
            api.message(chat, text, language_code="ar" if lang in ("ar", "ary") else lang)
            sent = await api.wait_for(chat, got + expected[text], timeout=120)
            load.latencies.append(sent[got].at - started)
            got += expected[text]
            load.replies += 1

    await _run_load(load, stack, memory, user)
    return load


async def parse_latency(stack: Stack, n: int = 200) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as http:
        rasa = RasaClient(http, stack.settings.rasa_url, token=stack.settings.rasa_token)
        out = []
        for i in range(n):
            started = time.monotonic()
            await rasa.parse(MIX[i % len(MIX)][1])
            out.append(time.monotonic() - started)
        return out


def language_throughput(seconds: float = 2.0) -> float:
    from bot.language.detector import detect

    texts = [t for _, t in MIX] * 50
    detect(texts[0])
    count, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        for text in texts:
            detect(text)
        count += len(texts)
    return count / (time.monotonic() - started)


def first_answer_seconds(root: Path) -> float | None:
    """`dalil run` in terminal mode with "bonjour": seconds until the first answer is printed."""
    var = Path(tempfile.mkdtemp(prefix="dalil-first-"))
    env = isolated_env(var)
    env.pop("RASA_TOKEN", None)
    env.pop("ACTION_TOKEN", None)
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dalil")), "run"],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("bonjour\n")
    proc.stdin.close()
    line = proc.stdout.readline()
    elapsed = time.monotonic() - started
    proc.wait(timeout=120)
    return elapsed if line.strip() else None


def training_seconds(root: Path) -> tuple[float | None, str]:
    model = latest_model(root / "models")
    if model is None:
        return None, "—"
    meta = model.with_name(model.name.removesuffix(".tar.gz") + ".json")
    if meta.exists():
        return json.loads(meta.read_text()).get("train_seconds"), model.name
    return None, model.name


async def measure(root: Path, *, seconds: float, levels: tuple[int, ...]) -> str:
    stack = Stack(root)
    memory: dict[str, float] = {}
    api = await FakeTelegram().start()
    try:
        print("starting Rasa and the action server…", file=sys.stderr, flush=True)
        rasa_start = stack.start_rasa()
        parse = await parse_latency(stack)
        stack.start_gateway(api)
        while not any(method == "getUpdates" for method, _ in api.calls):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        expected = await calibrate(api)
        # Each level runs bare then through the gateway, back to back: Rasa's tracker store
        # grows during the run, so both paths of a level meet the same Rasa.
        bare: list[Load] = []
        via: list[Load] = []
        for index, users in enumerate(levels):
            print(f"{users} user(s): bare Rasa, then through the gateway…", file=sys.stderr, flush=True)
            await bare_rasa(stack, users, 2.0, {})  # warm-up
            bare.append(await bare_rasa(stack, users, seconds, memory))
            via.append(
                await through_gateway(api, users, seconds, expected, stack, memory, base=10_000_000 * (index + 1))
            )
    finally:
        stack.stop()
        await api.stop()
    detect_rate = language_throughput()
    train, model_name = training_seconds(root)
    print("time from `dalil run` to the first answer…", file=sys.stderr, flush=True)
    first = first_answer_seconds(root)
    model = latest_model(root / "models")
    size = model.stat().st_size / 1e6 if model else 0
    return report(bare, via, parse, detect_rate, train, model_name, size, first, rasa_start, memory, seconds)


def report(
    bare: list[Load],
    via: list[Load],
    parse: list[float],
    detect_rate: float,
    train: float | None,
    model_name: str,
    model_mb: float,
    first: float | None,
    rasa_start: float,
    memory: dict[str, float],
    seconds: float,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (`dalil bench`) on {time.strftime('%Y-%m-%d')}: {describe_machine()}.",
        f"Model {model_name} ({model_mb:.0f} MB). Each load level runs {seconds:.0f} s; users write again as soon as",
        "they are answered (closed loop), cycling through a mix of FAQ questions in French, Arabic, Darija (both",
        "scripts) and English, event queries, greetings and thanks. Latency through the gateway runs from the moment",
        "the update is available on the (fake, loopback) Bot API to the moment the first reply reaches it.",
        "Each level runs bare, then through the gateway, back to back on the same Rasa server.",
        "",
        "| path | users | messages | p50 ms | p95 ms | p99 ms | replies/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b, g in zip(bare, via, strict=True):
        lines += [b.row(), g.row()]
    lines += ["", "| what | figure | target |", "|---|---|---|"]
    saturation_bare = max(b.throughput for b in bare)
    saturation_gw = max(g.throughput for g in via)
    ten = next((g for g in via if g.users == 10), None)
    one_bare = next((b for b in bare if b.users == 1), None)
    one_gw = next((g for g in via if g.users == 1), None)
    ratio = saturation_gw / saturation_bare if saturation_bare else 0
    lines.append(f"| sustained throughput through the gateway (best level) | {saturation_gw:.1f} replies/s | ≥ 30 |")
    if ten:
        lines.append(
            "| p95 at 10 users through the gateway | "
            f"{percentile([x * 1000 for x in ten.latencies], 95):.0f} ms | ≤ 300 ms |"
        )
    lines.append(f"| gateway / bare Rasa throughput | {ratio:.2f} | ≥ 0.90 |")
    bare_ten = next((b for b in bare if b.users == 10), None)
    if bare_ten and ten:
        lines.append(f"| CPU ms per reply at 10 users, bare Rasa | {bare_ten.cpu_per_reply()} | |")
        lines.append(f"| CPU ms per reply at 10 users, through the gateway | {ten.cpu_per_reply()} | |")
    if one_bare and one_gw:
        added = percentile([x * 1000 for x in one_gw.latencies], 50) - percentile(
            [x * 1000 for x in one_bare.latencies], 50
        )
        lines.append(f"| latency the gateway adds at p50 (1 user) | {added:.1f} ms | ≤ 5 ms |")
    lines.append(
        "| NLU parse alone (`/model/parse`), p50 / p95 | "
        f"{percentile([x * 1000 for x in parse], 50):.0f} / {percentile([x * 1000 for x in parse], 95):.0f} ms | |"
    )
    lines.append(f"| language detection | {detect_rate:,.0f} messages/s (one core) | ≥ 5,000 |")
    lines.append(
        f"| training (`dalil train`, last model) | {train:.0f} s | ≤ 180 s |"
        if train
        else "| training | not recorded | ≤ 180 s |"
    )
    lines.append(f"| Rasa + actions ready (model loaded) | {rasa_start:.1f} s | |")
    lines.append(
        f"| `dalil run` to first answer (model exists) | {first:.1f} s | ≤ 60 s |"
        if first
        else "| `dalil run` to first answer | failed | ≤ 60 s |"
    )
    total = sum(memory.values())
    detail = ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(memory.items()))
    lines.append(f"| resident memory (peak under load) | {total:.0f} MB ({detail}) | ≤ 2,500 MB |")
    return "\n".join(lines) + "\n"


DOCS = "docs/benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="dalil bench")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each load level")
    parser.add_argument("--users", default="1,10,50", help="concurrency levels")
    parser.add_argument(
        "--out", default="", help="also write the table to this file (keeps its notes after the first '## ')"
    )
    parser.add_argument("--write-docs", action="store_true", help=f"write the table to {DOCS} (same as --out {DOCS})")
    args = parser.parse_args(argv)
    if args.write_docs:
        args.out = args.out or DOCS
    from bot.core import logs
    from bot.core.settings import PROJECT_ROOT

    logs.setup("WARNING")

    levels = tuple(int(x) for x in args.users.split(","))
    table = asyncio.run(measure(PROJECT_ROOT, seconds=args.seconds, levels=levels))
    print(table)
    if args.out:
        out = PROJECT_ROOT / args.out
        previous = out.read_text(encoding="utf-8") if out.exists() else ""
        notes = previous.split("\n## ", 1)[1] if "\n## " in previous else ""
        out.write_text(table + ("\n## " + notes if notes else ""), encoding="utf-8")
        print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
