"""`dalil`: the command line every make target and operator uses.

dalil run                 the whole assistant (Telegram, or the terminal without a token)
dalil chat                terminal chat against an already running Rasa
dalil gateway             the Telegram gateway alone (started by `dalil run`)
dalil actions             the action server alone (started by `dalil run`)
dalil rasa                the Rasa server alone, newest model (systemd, containers)
dalil train [--force]     generate FAQ data and train if the inputs changed
dalil lang                one language code per stdin line (fr, ar, ary, en, es, und)
dalil lang-eval DIR       detector accuracy on language-id data (make eval-lang: ../shared/data/langid)
dalil nlu-eval [--details] model accuracy: held-out and real-question sets, latency (make eval-nlu)
dalil faq validate        every problem in faq/ with where it is and how to fix it
dalil faq generate|check  write / verify nlu_data/generated from faq/
dalil faq publish         validate, train if needed, test, hot-reload the running bot
dalil faq rollback        go back to the model before the last publish
dalil faq export|import FILE   the FAQ and contacts as a spreadsheet (.xlsx or .csv)
dalil events check        fetch every event feed and report what is wrong
dalil events export|import FILE   the events file as a spreadsheet
dalil status              which parts are up (Rasa, actions, gateway, database)
dalil bench [--write-docs]  latency, throughput, memory of the real stack (printed; docs/benchmarks.md)
dalil db upgrade          create or migrate the gateway's tables
dalil audit [--since D]    what admins did (import, publish, rollback, broadcast, role change)
dalil roles [add|remove]  admin roles: viewers (figures), editors (changes); see docs/roles.md
dalil hours               the hotline's next opening, holidays and closures ahead
dalil links [--out DIR]   the deep link of every topic and language, a QR code (PNG) for each
dalil broadcast --city C [--topic T] --fr … [--ar …] [--en …]   write to alert subscribers (preview, confirm)
dalil report export FILE.xlsx [--since YYYY-MM-DD]   the anonymous daily figures, with charts
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from bot.core import logs
from bot.core.settings import PROJECT_ROOT, Settings, SettingsError
from bot.ops.alerts_cli import register as register_alerts  # light: its work is imported when it runs


def _audit(args: argparse.Namespace, action: str, detail: str, result: str = "ok") -> None:
    """A row of the audit log: who (--actor or cli:<login>), what, the result (bot/ops/admin_cli.py)."""
    from bot.ops.admin_cli import record_cli

    record_cli(args, action, detail, result)


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
        settings.validate()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    from bot.ops import supervisor
    from bot.ops.training import ensure_model

    settings = _settings()
    if settings.terminal_mode:  # the chat is on this terminal: keep log lines out of it
        log_path = logs.terminal_log(settings.var_dir)
        logs.setup(settings.log_level, name="supervisor", path=log_path)
        print(f"Logs: {log_path}", file=sys.stderr, flush=True)
    else:
        logs.setup(settings.log_level, name="supervisor")
    started = time.monotonic()
    print("Checking the model…", file=sys.stderr, flush=True)
    result = ensure_model(settings.root)
    if result.trained:
        print(f"✓ trained {result.model.name} in {result.seconds:.0f} s", file=sys.stderr, flush=True)
    else:
        print(f"✓ model {result.model.name} is up to date", file=sys.stderr, flush=True)
    settings = _with_tokens(settings)
    code = asyncio.run(supervisor.run(settings, result.model))
    print(f"Dalil stopped after {time.monotonic() - started:.0f} s.", file=sys.stderr)
    return code


def _with_tokens(settings: Settings) -> Settings:
    """Per-run tokens for Rasa's HTTP API and the action server unless set in the environment."""
    import dataclasses
    import os
    import secrets

    rasa_token = settings.rasa_token or secrets.token_urlsafe(24)
    action_token = settings.action_token or secrets.token_urlsafe(24)
    os.environ["RASA_TOKEN"] = rasa_token
    os.environ["ACTION_TOKEN"] = action_token
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    run_env = settings.var_dir / "run.env"
    run_env.write_text(f"RASA_TOKEN={rasa_token}\nACTION_TOKEN={action_token}\n", encoding="utf-8")
    run_env.chmod(0o600)
    return dataclasses.replace(settings, rasa_token=rasa_token, action_token=action_token)


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.gateway.app import run_terminal

    settings = _settings()
    logs.setup(settings.log_level, name="chat", path=logs.terminal_log(settings.var_dir))
    asyncio.run(run_terminal(settings))
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from bot.gateway.app import run_telegram

    settings = _settings()
    logs.setup(settings.log_level, name="gateway")
    if settings.terminal_mode:
        print("TELEGRAM_BOT_TOKEN is not set: use `dalil chat` for the terminal.", file=sys.stderr)
        return 2
    run_telegram(settings)
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    import os

    from actions.server import main

    settings = _settings()
    logs.setup(settings.log_level, name="actions")
    main(host=os.environ.get("ACTION_HOST", "127.0.0.1"), port=settings.action_port)
    return 0


def cmd_rasa(args: argparse.Namespace) -> int:
    """Rasa alone (for systemd units and containers): endpoints from the environment, newest model."""
    import os

    from bot.ops.supervisor import rasa_part
    from bot.ops.training import latest_model

    settings = _settings()
    model = latest_model(settings.root / "models")
    if model is None:
        print("no trained model in models/: run `dalil train` first", file=sys.stderr)
        return 2
    part = rasa_part(settings, model)
    os.execve(part.argv[0], part.argv, part.env)
    return 0  # not reached


def cmd_train(args: argparse.Namespace) -> int:
    from bot.ops.training import ensure_model

    logs.setup("INFO")
    result = ensure_model(PROJECT_ROOT, force=args.force)
    if result.trained:
        print(f"trained {result.model.name} in {result.seconds:.1f} s")
    else:
        print(f"up to date: {result.model.name}")
    return 0


def cmd_lang(args: argparse.Namespace) -> int:
    from bot.language.detector import detect

    for line in sys.stdin:
        print(detect(line.rstrip("\n")).lang, flush=False)
    sys.stdout.flush()
    return 0


def cmd_lang_eval(args: argparse.Namespace) -> int:
    from bot.language import evaluation as lang_eval

    argv = [args.folder]
    if args.split:
        argv += ["--split", args.split]
    lang_eval.main(argv)
    return 0


def cmd_nlu_eval(args: argparse.Namespace) -> int:
    from bot.ops import nlu_eval

    logs.setup("WARNING")
    argv = ["--details"] if args.details else []
    for option in ("model", "url", "token", "heldout", "real", "dump"):
        if getattr(args, option):
            argv += [f"--{option}", getattr(args, option)]
    return nlu_eval.main(argv)


def cmd_faq(args: argparse.Namespace) -> int:
    from bot.core.content import Library
    from bot.ops.training import generate, stale_generated

    lib = Library(PROJECT_ROOT)
    if args.action == "generate":
        changed = generate(lib)
        for path in changed:
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        if not changed:
            print("generated files are up to date")
        return 0
    if args.action == "validate":
        from bot.authoring.validate import validate_library

        problems = validate_library(PROJECT_ROOT)
        for problem in problems:
            print(problem)
        errors = sum(1 for p in problems if p.level == "error")
        warnings = len(problems) - errors
        print(f"{len(lib.topics())} topics: {errors} error(s), {warnings} warning(s)")
        return 1 if errors else 0
    if args.action in ("export", "import"):
        return _sheet(args, "faq")
    if args.action in ("staged", "discard"):
        return _staged(args.action)
    if args.action in ("publish", "rollback"):
        from bot.ops.publish import publish, rollback

        settings = _settings()
        logs.setup("WARNING")
        result = publish(settings, force_train=args.force_train) if args.action == "publish" else rollback(settings)
        _audit(args, args.action, "; ".join(result.lines), "ok" if result.ok else "failed")
        if args.json:
            print(result.to_json())
        else:
            print("\n".join(result.lines))
        return 0 if result.ok else 1
    if args.action == "check":
        stale = stale_generated(lib)
        for path in stale:
            print(f"stale: {path.relative_to(PROJECT_ROOT)} (run `dalil faq generate`)")
        return 1 if stale else 0
    print(f"unknown faq action {args.action}", file=sys.stderr)
    return 2


def cmd_events(args: argparse.Namespace) -> int:
    if args.action in ("export", "import"):
        args.file = args.sources[0] if args.sources else None
        return _sheet(args, "events")
    from bot.ops.events_cli import check

    logs.setup("WARNING")
    return check(args.sources or None)


def _sheet(args: argparse.Namespace, kind: str) -> int:
    """export/import of the FAQ (with contacts) or the events as a spreadsheet."""
    from pathlib import Path

    from bot.authoring.events import export_events, import_events
    from bot.authoring.faq import export_faq, import_faq

    if not args.file:
        print(f"usage: dalil {kind} {args.action} FILE.xlsx|FILE.csv", file=sys.stderr)
        return 2
    from bot.ops.releases import Staging

    path = Path(args.file)
    staging = Staging(PROJECT_ROOT, _settings().var_dir)
    source = staging.effective()  # what the next publish would put live
    if args.action == "export":
        written = (export_faq if kind == "faq" else export_events)(source, path)
        print(f"wrote {written}")
        if staging.changes():
            print("(with the changes imported and not yet published: `dalil faq staged` lists them)")
        return 0
    importer = import_faq if kind == "faq" else import_events
    report = importer(source, path, apply=False)
    print(report.summary())
    if not report.ok:
        if not getattr(args, "dry_run", False):
            _audit(args, "import", f"{kind} {path.name}: errors in the file, nothing staged", "refused")
        return 1
    if not report.changed_files or getattr(args, "dry_run", False):
        return 0
    if sys.stdin.isatty() and not getattr(args, "yes", False):
        if input("Stage these changes for the next publish? [y/N] ").strip().lower() not in ("y", "yes", "o", "oui"):
            print("nothing written")
            return 0
    report = importer(staging.prepare(), path, apply=True)  # the same import, written into var/staging
    if not report.applied:
        print(report.summary())
        _audit(args, "import", f"{kind} {path.name}: not staged", "failed")
        return 1
    staged = [str(changed.relative_to(staging.root)) for changed in report.changed_files]
    for name in staged:
        print(f"staged {name}")
    _audit(args, "import", f"{kind} {path.name}: staged " + ", ".join(staged))
    print(
        "Nothing has changed for users yet. `dalil faq staged` lists what is waiting; "
        "`dalil faq publish` puts it live (with the model, retrained if questions changed); "
        "`dalil faq discard` drops it."
    )
    return 0


def _staged(action: str) -> int:
    """`dalil faq staged` (what the next publish puts live) and `dalil faq discard`."""
    from bot.ops.releases import Staging

    staging = Staging(PROJECT_ROOT, _settings().var_dir)
    changes = staging.changes()
    if action == "discard":
        staging.discard()
        print(f"discarded {len(changes)} staged file(s)" if changes else "nothing was staged")
        return 0
    for name in changes:
        print(f"staged: {name}")
    print(f"{len(changes)} file(s) wait for `dalil faq publish`" if changes else "nothing is staged")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark, a development tool (devtools/, not part of the product), as its own
    process: the product never imports it, and an installation without it says so."""
    if not (PROJECT_ROOT / "devtools" / "bench.py").is_file():
        print("dalil bench is a development tool: run it from a checkout of the project (make bench).", file=sys.stderr)
        return 2
    argv = ["--seconds", args.seconds, "--users", args.users, "--out", args.out]
    argv += ["--write-docs"] if args.write_docs else []
    return subprocess.call([sys.executable, "-m", "devtools.bench", *argv], cwd=PROJECT_ROOT)


def cmd_status(args: argparse.Namespace) -> int:
    from bot.gateway import health

    return health.main(_settings())


def cmd_db(args: argparse.Namespace) -> int:
    from bot.storage.db import migrate

    settings = _settings()
    migrate(settings.database_url)
    print("database is up to date")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.ops.report import run

    return run(_settings(), args)


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.ops.report import add_parser  # its options and help live with the report

    add_parser(sub).set_defaults(func=cmd_report)


def cmd_links(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.ops.links import run

    return run(_settings(), bot=args.bot, out=Path(args.out) if args.out else None)


def _links_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    links = sub.add_parser(
        "links",
        help="deep links and QR codes for posters",
        description="Print the Telegram deep link of every FAQ topic (https://t.me/<bot>?start=t_<topic>, with its "
        "French title) and language (?start=l_fr, l_ar, l_en), and write a QR code PNG for each (t_<topic>.png, "
        "l_<code>.png). The bot's username: --bot, else TELEGRAM_BOT_USERNAME, else asked to Telegram (getMe) "
        "with TELEGRAM_BOT_TOKEN.",
    )
    links.add_argument("--out", help="folder for the PNG files (default var/links/)")
    links.add_argument("--bot", help="the bot's username, e.g. DalilBot (default: TELEGRAM_BOT_USERNAME or getMe)")
    links.set_defaults(func=cmd_links)


def _admin_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.ops.admin_cli import register

    register(sub)


def _content_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`dalil faq …` and `dalil events …`: what admins change, staged and published."""
    faq = sub.add_parser("faq", help="FAQ tools")
    faq.add_argument(
        "action",
        choices=["validate", "export", "import", "staged", "discard", "generate", "check", "publish", "rollback"],
        help="import stages changes in var/staging; staged lists them; publish puts them live with the model; "
        "rollback returns to the previous release (content and model); discard drops what is staged",
    )
    faq.add_argument("file", nargs="?", help="export/import: the .xlsx or .csv file")
    faq.add_argument("--dry-run", action="store_true", help="import: show the changes, write nothing")
    faq.add_argument("--yes", action="store_true", help="import: apply without asking")
    faq.add_argument("--json", action="store_true", help="publish/rollback: print the result as JSON")
    faq.add_argument("--force-train", action="store_true", help="publish: train even if the questions did not change")
    faq.set_defaults(func=cmd_faq)
    events = sub.add_parser("events", help="event feeds")
    events.add_argument("action", choices=["check", "export", "import"])
    events.add_argument(
        "sources", nargs="*", help="check: feeds (default: EVENTS_URL or events/events.yml); export/import: FILE"
    )
    events.add_argument("--dry-run", action="store_true", help="import: show the changes, write nothing")
    events.add_argument("--yes", action="store_true", help="import: apply without asking")
    events.set_defaults(func=cmd_events)


def _bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark the real stack and print the figures",
        description="Latency, throughput and memory of the real stack on this machine, printed as a table. "
        "Nothing is written unless --write-docs (docs/benchmarks.md) or --out FILE is given.",
    )
    bench.add_argument("--seconds", default="15", help="duration of each load level")
    bench.add_argument("--users", default="1,10,50", help="concurrency levels")
    bench.add_argument("--out", default="", help="also write the table to FILE")
    bench.add_argument(
        "--write-docs", action="store_true", help="also write the table to docs/benchmarks.md (its notes kept)"
    )
    bench.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dalil", description="Dalil assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        help="run the whole assistant",
        description="Run the whole assistant: train a model first if none matches the data, then start "
        "the action server, the Rasa server and the Telegram gateway, restart a part that dies, and stop "
        "them all on Ctrl-C. Without TELEGRAM_BOT_TOKEN the gateway is this terminal: each line you type "
        "is a message, replies are printed, a number presses a button, Ctrl-D ends; logs then go to "
        "var/log/terminal.log. Configuration comes from the environment and .env (see the README).",
    ).set_defaults(func=cmd_run)
    sub.add_parser(
        "chat",
        help="terminal chat with a running Rasa",
        description="Chat on this terminal through the gateway's pipeline, against a Rasa server and "
        "action server that are already running (RASA_HOST, RASA_PORT, RASA_TOKEN; `dalil run` starts "
        "everything instead). Each line is a message; a number presses a button; Ctrl-D ends. "
        "Logs go to var/log/terminal.log.",
    ).set_defaults(func=cmd_chat)
    sub.add_parser("gateway", help="the Telegram gateway alone").set_defaults(func=cmd_gateway)
    sub.add_parser("actions", help="the action server alone").set_defaults(func=cmd_actions)
    sub.add_parser("rasa", help="the Rasa server alone (newest model)").set_defaults(func=cmd_rasa)
    train = sub.add_parser("train", help="train the model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if a matching model exists")
    train.set_defaults(func=cmd_train)
    sub.add_parser("lang", help="detect the language of each stdin line").set_defaults(func=cmd_lang)
    lang_eval = sub.add_parser("lang-eval", help="measure the language detector")
    lang_eval.add_argument(
        "folder", help="the language-id data, outside the project (make eval-lang: ../shared/data/langid)"
    )
    lang_eval.add_argument("--split", choices=["dev", "holdout"], help="even rows (dev) or odd rows (holdout) only")
    lang_eval.set_defaults(func=cmd_lang_eval)
    nlu_eval = sub.add_parser("nlu-eval", help="NLU accuracy on the held-out and real-question sets, latency")
    nlu_eval.add_argument("--model", help="model file (default: the newest in models/)")
    nlu_eval.add_argument("--url", help="evaluate a running Rasa server instead of loading the model")
    nlu_eval.add_argument("--token", help="Rasa token for --url")
    nlu_eval.add_argument("--heldout", help="held-out folder (default tests/nlu)")
    nlu_eval.add_argument("--real", help="real-question folder (default tests/nlu/real)")
    nlu_eval.add_argument("--details", action="store_true", help="per-label tables, confusions, real-set misses")
    nlu_eval.add_argument("--dump", help="write every parse with its confidences as JSON lines")
    nlu_eval.set_defaults(func=cmd_nlu_eval)
    _content_parsers(sub)
    sub.add_parser("status", help="what is up: Rasa, actions, gateway, database").set_defaults(func=cmd_status)
    _bench_parser(sub)
    db = sub.add_parser("db", help="database tools")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    _links_parser(sub)
    _report_parser(sub)
    _admin_parsers(sub)  # audit, roles, hours, faq --actor
    register_alerts(sub)  # broadcast (bot/ops/alerts_cli.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
