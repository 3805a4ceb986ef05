"""Dalil's Rasa input channel: the REST webhook the gateway calls, with a token and whole messages.

Two differences from Rasa's own `rest` channel:
- a bot message is returned whole: Rasa's CollectingOutputChannel cuts text without buttons at
  every blank line, which would turn one answer (emergency numbers, contact lists) into many
  Telegram messages;
- with a token configured (RASA_TOKEN, written into var/credentials.yml by `dalil run`),
  requests without `Authorization: Bearer <token>` are refused, so the port can be exposed;
- a failure returns HTTP 500 (the gateway retries later) and never logs the message text.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)


class WholeMessages(CollectingOutputChannel):  # type: ignore[misc]  # Rasa is untyped: the base is Any
    """Collects bot messages without splitting text at blank lines."""

    @classmethod
    def name(cls) -> str:
        return "dalil"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._persist_message(self._message(recipient_id, text=text.strip()))


class DalilRestInput(InputChannel):  # type: ignore[misc]  # Rasa is untyped: the base is Any
    @classmethod
    def name(cls) -> str:
        return "dalil"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> DalilRestInput:
        return cls(token=str((credentials or {}).get("token") or ""))

    def __init__(self, token: str = "") -> None:
        self.token = token

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("dalil_webhook", __name__)

        # add_route, not the @webhook.route decorator: the same registration (sanic's add_route
        # calls route()), but typed, where Blueprint.route is an untyped wrapper.
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            if self.token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}"):
                return response.json({"error": "unauthorised"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            sender = str(body.get("sender") or "")
            text = str(body.get("message") or "")
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            if not sender:
                return response.json({"error": "sender is required"}, status=400)
            collector = WholeMessages()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata))
            except Exception as exc:  # never log the user's text
                log.error("message handling failed: %s", type(exc).__name__)
                return response.json({"error": "failed"}, status=500)
            return response.json(collector.messages)

        webhook.add_route(health, "/", methods=["GET"])
        webhook.add_route(receive, "/webhook", methods=["POST"])
        return webhook
