"""Rasa client: the gateway's only way to talk to Rasa, over HTTP like any other client.

Owns the REST channel call (`POST /webhooks/dalil/webhook`, see nlu/channel.py, with metadata), the HTTP API calls the
gateway needs (status, parse, tracker, events) and the translation of transport failures into
`RasaUnavailable`. The HTTP client is injected so tests can use `httpx.MockTransport`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)


class RasaError(Exception):
    """Rasa answered, but not with something usable."""


class RasaUnavailable(RasaError):
    """Rasa could not be reached, timed out or failed (5xx): try again later."""


class RasaClient:
    """Talks to one Rasa server (or a load balancer in front of several)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        token: str = "",
        timeout: float = 30.0,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _params(self) -> dict[str, str]:
        return {"token": self._token} if self._token else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", self._timeout)
        try:
            response = await self._http.request(method, self._base + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"{method} {path}: timed out") from exc
        except httpx.TransportError as exc:
            raise RasaUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise RasaUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise RasaError(f"{method} {path}: HTTP {response.status_code}")
        return response

    async def send(self, sender: str, text: str, metadata: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Send one user message through Dalil's REST channel; return the bot's messages."""
        body = {"sender": sender, "message": text, "metadata": dict(metadata or {})}
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        response = await self._request("POST", "/webhooks/dalil/webhook", json=body, headers=headers)
        try:
            messages = response.json()
        except json.JSONDecodeError as exc:
            raise RasaUnavailable("REST webhook returned invalid JSON") from exc
        if not isinstance(messages, list):
            raise RasaError("REST webhook did not return a list")
        return [m for m in messages if isinstance(m, dict)]

    async def parse(self, text: str) -> dict[str, Any]:
        """NLU only: intent, entities, response selector."""
        response = await self._request("POST", "/model/parse", params=self._params(), json={"text": text})
        return _object(response)

    async def status(self, timeout: float = 5.0) -> dict[str, Any]:
        response = await self._request("GET", "/status", params=self._params(), timeout=timeout)
        return _object(response)

    async def running_status(self, timeout: float = 60.0) -> dict[str, Any] | None:
        """The server's status, waiting up to `timeout` for a busy server; None only when no
        server listens (connection refused). A server that stays silent raises RasaUnavailable:
        "busy" must never be mistaken for "not running" (a publish would skip the reload)."""
        try:
            return await self.status(timeout=timeout)
        except RasaUnavailable as exc:
            if isinstance(exc.__cause__, httpx.ConnectError):
                return None
            raise

    async def ready(self) -> bool:
        """True when the server answers and has a model loaded."""
        try:
            status = await self.status()
        except RasaError:
            return False
        return bool(status.get("model_file") or status.get("model_id"))

    async def tracker(self, sender: str) -> dict[str, Any]:
        path = f"/conversations/{quote(sender, safe='')}/tracker"
        response = await self._request("GET", path, params={**self._params(), "include_events": "ALL"})
        return _object(response)

    async def append_events(self, sender: str, events: Sequence[Mapping[str, Any]]) -> None:
        path = f"/conversations/{quote(sender, safe='')}/tracker/events"
        await self._request("POST", path, params={**self._params(), "include_events": "NONE"}, json=list(events))

    async def replace_model(self, model_path: str) -> None:
        """Load another model into the running server (`PUT /model`)."""
        await self._request("PUT", "/model", params=self._params(), json={"model_file": model_path}, timeout=300.0)


def _object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object Rasa answered; anything else is an error, not a crash further on."""
    data = response.json()
    if not isinstance(data, dict):
        raise RasaError(f"{response.request.url.path}: Rasa answered {type(data).__name__}, not an object")
    return data
