"""bot.gateway.rasa_client: a busy Rasa server is never mistaken for a stopped one."""

from __future__ import annotations

import httpx
import pytest

from bot.gateway.rasa_client import RasaClient, RasaUnavailable


def client(handler) -> tuple[httpx.AsyncClient, RasaClient]:  # noqa: ANN001
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return http, RasaClient(http, "http://rasa")


async def test_no_server_listening_means_not_running() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http, rasa = client(refused)
    async with http:
        assert await rasa.running_status() is None


async def test_a_server_too_busy_to_answer_is_an_error_not_absent() -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    http, rasa = client(silent)
    async with http:
        with pytest.raises(RasaUnavailable):
            await rasa.running_status(timeout=0.1)


async def test_a_running_server_gives_its_model() -> None:
    http, rasa = client(lambda request: httpx.Response(200, json={"model_file": "models/m.tar.gz"}))
    async with http:
        assert await rasa.running_status() == {"model_file": "models/m.tar.gz"}
