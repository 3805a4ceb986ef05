"""Terminal chat: the gateway's pipeline with stdin/stdout instead of Telegram.

Each stdin line is one user message; replies are printed to stdout (buttons as a numbered list:
typing the number presses the button). At end of input it waits until every reply is printed.
Used by `make run` without TELEGRAM_BOT_TOKEN, and handy for trying answers on a server.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.core.bodies import Body
from bot.gateway.runner import Runner


class TerminalTransport:
    """Prints bodies; remembers the last buttons so a typed number can press one."""

    def __init__(self, out: TextIO = sys.stdout, files_dir: Path | None = None) -> None:
        self.out = out
        self.files_dir = files_dir or Path("var")  # where a chart (a photo body) is saved
        self.last_buttons: list[str] = []
        self._next_id = 0

    async def send(self, chat_id: int, body: Body) -> int | None:
        lines = [str(body.get("text", ""))]
        if "photo" in body:  # a chart: saved as a file, its place printed before its caption
            path = self.files_dir / "stats.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(body["photo"]))
            lines.insert(0, f"[chart: stats.png saved to {path}]")
        buttons = [b for row in body.get("buttons") or [] for b in row]
        if buttons:
            self.last_buttons = [b["token"] for b in buttons]
            lines += [f"  [{i}] {b['text']}" for i, b in enumerate(buttons, 1)]
        if body.get("keyboard"):  # Telegram shows these under the input field; typing one sends it
            labels = [body["location_key"]] if body.get("location_key") else []
            lines.append("  ⌨ " + " · ".join(labels + [label for row in body["keyboard"] for label in row]))
        self.out.write("\n".join(lines).rstrip() + "\n\n")
        self.out.flush()
        self._next_id += 1
        return self._next_id


async def chat(runner: Runner, transport: TerminalTransport, stdin: TextIO = sys.stdin) -> None:
    """Read lines until EOF; each is processed in order; return when all replies are out."""
    user_id = "terminal-" + secrets.token_hex(4)
    lines = _reader(stdin)
    while True:
        line = await lines.get()
        if line is None:
            break
        text = line.rstrip("\n")
        choice = text.strip()
        if choice.isdigit() and 0 < int(choice) <= len(transport.last_buttons):
            token = transport.last_buttons[int(choice) - 1]
            await runner.submit(user_id, 0, None, "callback", data={"token": token})
        elif choice.startswith("/") and choice[1:].split(" ")[0].isalpha():
            name, _, payload = choice[1:].partition(" ")
            data: dict[str, object] = {"name": name.lower()}
            if name.lower() == "start" and payload.strip():
                data["payload"] = payload.strip()[:64]  # as a deep link would bring it
            await runner.submit(user_id, 0, None, "command", data=data)
        else:
            await runner.submit(user_id, 0, None, "text", text=text)
        # Answer before reading the next line, as a person typing would see it.
        await runner.drain(user_id)
    await runner.drain(user_id)


def _reader(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines from stdin, read by a daemon thread so Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return queue
