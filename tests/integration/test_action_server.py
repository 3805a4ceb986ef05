"""The action server keeps a fresh connection open while Rasa is busy before writing its request.

Rasa opens a new connection for each action call; on a loaded machine its event loop may take
seconds between connecting and sending. Sanic's default closes a connection that has sent
nothing for 5 s, and the action then fails ("Cannot write to closing transport"): the person
gets "could not prepare the answer". This test holds a connection idle past those 5 seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, free_port, wait_http

IDLE_SECONDS = 6.0  # longer than Sanic's default keep-alive timeout (5 s): the point of the test


def test_a_connection_idle_before_its_request_is_still_served(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "actions.log"
    env = {**os.environ, "ACTION_PORT": str(port), "ACTION_TOKEN": ""}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "actions.server"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc, log=log, timeout=60)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            time.sleep(IDLE_SECONDS)  # Rasa's loop busy elsewhere: nothing written yet
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
