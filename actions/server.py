"""Action server entry point: rasa-sdk's app, on localhost by default, with an optional token.

`dalil actions` runs this. Rasa sends the token as `?token=` (endpoints.yml `token:`) when
ACTION_TOKEN is set; any request without it is refused, so the port can be exposed safely.
"""

from __future__ import annotations

import hmac
import logging
import os

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 120


def build_app(token: str = "") -> Sanic:
    app: Sanic = create_app("actions", cors_origins=None)  # rasa_sdk (untyped) declares -> Sanic
    # Rasa opens a new connection for every action call, and its event loop can be busy for
    # seconds on a loaded machine (it embeds each message) between connecting and writing the
    # request. Sanic closes a connection that has sent nothing after KEEP_ALIVE_TIMEOUT (5 s by
    # default), and Rasa then fails the action ("Cannot write to closing transport": the person
    # got "could not prepare the answer"; 37 of 1,231 messages while a model was trained beside
    # a loaded server, 2026-12-07). Idle connections cost nothing on loopback: wait longer.
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS

    @app.middleware("request")  # type: ignore[misc, no-untyped-call]  # sanic 21.12: middleware() is unannotated
    async def _check_token(request: Request) -> HTTPResponse | None:
        if request.path == "/health" or not token:
            return None
        given = request.args.get("token", "")
        if not hmac.compare_digest(given, token):
            return response.json({"error": "unauthorised"}, status=401)
        return None

    return app


def main(host: str | None = None, port: int | None = None) -> None:
    host = host or os.environ.get("ACTION_HOST", "127.0.0.1")
    port = port or int(os.environ.get("ACTION_PORT", "5055"))
    app = build_app(os.environ.get("ACTION_TOKEN", ""))
    log.info("action server on %s:%s", host, port)
    app.run(host, port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
