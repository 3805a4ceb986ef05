"""Telegram's sending limits, shared by every gateway through Redis.

python-telegram-bot's AIORateLimiter counts in one process: two gateways (deploy/docker-compose.yml
runs two) would each send up to Telegram's ~30 messages/s and 20/min in the hotline group. With
REDIS_URL set, `RedisRateLimiter` keeps one count for the bot in Redis instead: a sliding log per
bucket (a sorted set of send times, Redis's own clock), checked and updated by one Lua script
per request, so no two gateways can both take the last place in a window. Buckets, as Telegram
documents them:

- every request naming a chat: TELEGRAM_MAX_RATE per second (30);
- a group or channel (the hotline group): TELEGRAM_GROUP_RATE per minute (20), its topics together;
- a private chat: 3 per 3 seconds (Telegram: about one per second, short bursts allowed), so an
  answer in three parts is not held back.

A 429 (RetryAfter) pauses every gateway for the time Telegram asks. If Redis cannot be reached,
each gateway falls back to its own AIORateLimiter (logged), so people still get answers. Keys
hold no Telegram id: a chat is named by a keyed hash (DALIL_SECRET_KEY, which gateways share).
Without REDIS_URL, one gateway uses AIORateLimiter as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.core.identity import pseudonym
from bot.core.settings import Settings

log = logging.getLogger(__name__)

Limit = tuple[int, float]  # at most N requests in any window of S seconds
PRIVATE: Limit = (3, 3.0)

# KEYS[1]: the pause key (set after a 429); KEYS[2..n]: the buckets.
# ARGV[1]: a unique id for this request; then, per bucket, its limit and its window in ms.
# Returns minus Redis's time in ms when the request may go now (and counts it in every bucket),
# else the milliseconds to wait before asking again (nothing is counted).
_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return paused end
local wait = 0
for i = 2, #KEYS do
  local limit = tonumber(ARGV[2 * i - 2])
  local window = tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local edge = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local until_free = tonumber(edge[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return wait end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i - 1]))
end
return -now
"""


class RedisRateLimiter(BaseRateLimiter[int]):
    """A BaseRateLimiter whose counts live in Redis, shared by every process of one bot."""

    def __init__(
        self,
        redis_url: str,
        *,
        bot_id: str,
        secret: str,
        overall: Limit | None = (30, 1.0),
        group: Limit | None = (20, 60.0),
        private: Limit | None = PRIVATE,
        fallback: BaseRateLimiter[Any] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.prefix = f"dalil:tg:{bot_id}:"
        self.secret = secret
        self.overall, self.group, self.private = (_limit(x) for x in (overall, group, private))
        self.fallback = fallback
        self._redis: Any = None
        self._script: Any = None
        self._warned_at = -1e9

    async def initialize(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._script = self._redis.register_script(_SCRIPT)
        if self.fallback is not None:
            await self.fallback.initialize()

    async def shutdown(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.close()
            self._redis = None
        if self.fallback is not None:
            await self.fallback.shutdown()

    def buckets(self, chat_id: Any) -> list[tuple[str, Limit]]:
        """The buckets a request to `chat_id` counts in (none without a chat, like getUpdates)."""
        if chat_id is None:
            return []
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        found: list[tuple[str, Limit]] = []
        if self.overall:
            found.append(("all", self.overall))
        is_group = isinstance(chat_id, str) or chat_id < 0
        limit = self.group if is_group else self.private
        if limit:
            found.append(("chat:" + pseudonym(self.secret, "rl", chat_id), limit))
        return found

    async def acquire(self, chat_id: Any) -> float | None:
        """Wait until a request to `chat_id` fits in every bucket, counting it there; return the
        moment it was counted, in seconds of Redis's clock (None when no bucket applies)."""
        buckets = self.buckets(chat_id)
        if not buckets:
            return None
        keys = [self.prefix + "pause", *(self.prefix + name for name, _ in buckets)]
        args: list[Any] = [secrets.token_hex(8)]
        for _, (limit, seconds) in buckets:
            args += [limit, int(seconds * 1000)]
        while True:
            wait_ms = int(await self._script(keys=keys, args=args))
            if wait_ms <= 0:
                return -wait_ms / 1000
            await asyncio.sleep(wait_ms / 1000 + random.uniform(0, 0.005))  # noqa: S311 - jitter, not security

    async def pause(self, seconds: float) -> None:
        """Telegram said "retry after": every gateway waits that long."""
        await self._redis.set(self.prefix + "pause", "1", px=max(1, int(seconds * 1000) + 100))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        try:
            await self.acquire(data.get("chat_id"))
        except (OSError, ConnectionError, TimeoutError, _redis_error()) as exc:
            self._warn(exc)
            if self.fallback is not None:
                return await self.fallback.process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            return await callback(*args, **kwargs)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            with contextlib.suppress(Exception):
                await self.pause(seconds)
            raise

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning(
                "Redis unreachable for the shared Telegram limits (%s): this gateway counts alone meanwhile",
                type(exc).__name__,
            )


def _limit(limit: Limit | None) -> Limit | None:
    if not limit or limit[0] <= 0 or limit[1] <= 0:
        return None
    return (max(1, int(limit[0])), float(limit[1]))


def _redis_error() -> type[BaseException]:
    from redis.exceptions import RedisError

    error: type[BaseException] = RedisError
    return error


def bot_id(token: str | None) -> str:
    """The bot's numeric id, the part of the token before ':' (public, not the secret part)."""
    return (token or "").split(":", 1)[0] or "bot"


def telegram_rate_limiter(settings: Settings, secret: str) -> BaseRateLimiter[Any]:
    """Shared limits through Redis when REDIS_URL is set, else this process's AIORateLimiter."""
    local = AIORateLimiter(
        overall_max_rate=settings.telegram_max_rate, group_max_rate=settings.telegram_group_rate, max_retries=0
    )
    if not settings.redis_url:
        return local
    per_second = settings.telegram_max_rate
    return RedisRateLimiter(
        settings.redis_url,
        bot_id=bot_id(settings.telegram_bot_token),
        secret=secret,
        overall=(int(per_second), 1.0) if per_second >= 1 else (1, 1.0 / per_second) if per_second > 0 else None,
        group=(int(settings.telegram_group_rate), 60.0),
        fallback=local,
    )
