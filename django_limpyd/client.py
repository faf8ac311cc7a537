"""The redis-py client used by every django_limpyd database.

Two behaviours differ from a plain ``redis.Redis``:

* **No blind retries of writes.** redis-py 6+ retries failed commands by
  default; a retried ``INCR``, ``EVALSHA`` of a create or ``EXEC`` can apply a
  write twice when only the reply was lost. Connections are built with a
  zero-retry policy, and this client retries only read-only commands, on
  ``ConnectionError`` (never on ``TimeoutError``, so a stalled server fails
  within ``SOCKET_TIMEOUT``).
* **Observers.** Callables registered on the client see every command (and
  every pipeline as one round trip) with its duration. With none registered
  the cost is one truth test per command. They back command logging and
  ``django_limpyd.test.commands.assert_num_commands``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

#: Commands that never change data: safe to send again after a lost connection.
READ_ONLY_COMMANDS = frozenset(
    [
        "BITCOUNT",
        "BITPOS",
        "DBSIZE",
        "ECHO",
        "EXISTS",
        "FCALL_RO",
        "GET",
        "GETBIT",
        "GETRANGE",
        "HEXISTS",
        "HGET",
        "HGETALL",
        "HKEYS",
        "HLEN",
        "HMGET",
        "HRANDFIELD",
        "HSCAN",
        "HSTRLEN",
        "HVALS",
        "INFO",
        "LINDEX",
        "LLEN",
        "LPOS",
        "LRANGE",
        "MEMORY",
        "MGET",
        "OBJECT",
        "PING",
        "PTTL",
        "SCAN",
        "SCARD",
        "SDIFF",
        "SINTER",
        "SISMEMBER",
        "SMEMBERS",
        "SMISMEMBER",
        "SORT_RO",
        "SRANDMEMBER",
        "SSCAN",
        "STRLEN",
        "SUNION",
        "TIME",
        "TTL",
        "TYPE",
        "ZCARD",
        "ZCOUNT",
        "ZLEXCOUNT",
        "ZMSCORE",
        "ZRANGE",
        "ZRANGEBYLEX",
        "ZRANGEBYSCORE",
        "ZRANK",
        "ZREVRANGE",
        "ZREVRANGEBYLEX",
        "ZREVRANGEBYSCORE",
        "ZREVRANK",
        "ZSCAN",
        "ZSCORE",
    ]
)

#: An observer gets (commands, duration in seconds); one call per round trip.
Observer = Callable[[Sequence[tuple[Any, ...]], float], None]


def no_retry() -> Retry:
    """The retry policy put on every connection: never retry at that level."""
    return Retry(NoBackoff(), 0)


def _notify(observers: list[Observer], commands: list[tuple[Any, ...]], start: float) -> None:
    duration = time.perf_counter() - start
    for observer in list(observers):
        observer(commands, duration)


class LimpydPipeline(Pipeline):
    """A pipeline whose execution is reported to the client's observers.

    Commands sent at once (``WATCH``, reads between ``watch()`` and ``multi()``)
    are reported one round trip each, like the client's.
    """

    def _disconnect_raise_on_watching(self, conn: Any, error: Exception, *args: Any) -> None:
        """A connection lost during EXEC: disconnect and let the error itself propagate.

        redis-py turns it into a ``WatchError`` when keys were watched, and a
        ``transaction()`` then runs its function again: but EXEC may have been
        applied, with only its reply lost, so running it again could apply the writes
        twice. A ``ConnectionError`` (or ``TimeoutError``) says "unknown outcome".
        """
        conn.disconnect()
        self.watching = False  # the watch died with the connection: no UNWATCH to send

    def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        observers = self._limpyd_observers
        if not observers:
            return super().immediate_execute_command(*args, **options)
        start = time.perf_counter()
        try:
            return super().immediate_execute_command(*args, **options)
        finally:
            _notify(observers, [args], start)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        observers = self._limpyd_observers
        if not observers:
            return super().execute(raise_on_error)
        commands = [args for args, _options in self.command_stack]
        if self.transaction and commands:
            commands = [("MULTI",), *commands, ("EXEC",)]
        start = time.perf_counter()
        try:
            return super().execute(raise_on_error)
        finally:
            _notify(observers, commands, start)


class LimpydRedis(redis.Redis):
    """``redis.Redis`` that retries only reads and reports commands to observers."""

    def __init__(self, *args: Any, read_retries: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_retries = read_retries
        self._limpyd_observers: list[Observer] = []

    def add_observer(self, observer: Observer) -> None:
        """Start reporting every round trip to ``observer``."""
        self._limpyd_observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop reporting to ``observer``."""
        self._limpyd_observers.remove(observer)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        observers = self._limpyd_observers
        start = time.perf_counter() if observers else 0.0
        try:
            return self._execute_with_read_retries(args, options)
        finally:
            if observers:
                _notify(observers, [args], start)

    def _execute_with_read_retries(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        attempts = 0
        while True:
            try:
                return super().execute_command(*args, **options)
            except RedisConnectionError:
                name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
                name = name.upper()
                if attempts >= self.read_retries or name not in READ_ONLY_COMMANDS:
                    raise
                attempts += 1

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> LimpydPipeline:
        pipe = LimpydPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe._limpyd_observers = self._limpyd_observers
        return pipe
