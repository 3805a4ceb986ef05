"""Health checks for Dalil's processes in containers, with the standard library only.

The image has no curl, and Rasa's /status needs the API token, which a Kubernetes httpGet probe
cannot read from a Secret; this script reads it from the environment instead. Exit status 0
means healthy, 1 unhealthy (what Docker's HEALTHCHECK and Kubernetes exec probes expect).

    python deploy/healthcheck.py rasa      GET /status?token=RASA_TOKEN: 200 and a loaded model
    python deploy/healthcheck.py actions   GET /health on the action server: 200
    python deploy/healthcheck.py gateway   the webhook port accepts a TCP connection
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 4.0


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.read()


def check_rasa() -> str:
    """Rasa answers /status with a model file (it only listens once the model is loaded)."""
    port = os.environ.get("RASA_PORT") or "5005"
    query = urllib.parse.urlencode({"token": os.environ.get("RASA_TOKEN", "")})
    status = json.loads(_get(f"http://127.0.0.1:{port}/status?{query}"))
    model = status.get("model_file")
    if not model:
        raise RuntimeError("no model loaded")
    return f"model {model}"


def check_actions() -> str:
    port = os.environ.get("ACTION_PORT") or "5055"
    _get(f"http://127.0.0.1:{port}/health")
    return "action server answers"


def check_gateway() -> str:
    """In webhook mode the gateway's web server must accept connections; polling has no port."""
    if not os.environ.get("TELEGRAM_WEBHOOK_URL"):
        return "polling mode: no port to check"
    port = int(os.environ.get("WEBHOOK_PORT") or "8443")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        return f"webhook port {port} open"


CHECKS = {"rasa": check_rasa, "actions": check_actions, "gateway": check_gateway}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        print(CHECKS[argv[0]]())
    except (OSError, ValueError, RuntimeError, urllib.error.URLError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
