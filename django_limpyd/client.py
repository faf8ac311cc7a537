"""The redis-py client used by every django_limpyd database, and THE one module that
depends on redis-py internals.

Three behaviours differ from a plain ``redis.Redis``:

* **No blind retries of writes.** redis-py 6+ retries failed commands by
  default; a retried ``INCR``, ``FCALL`` (or ``EVALSHA``) of a create or
  ``EXEC`` can apply a write twice when only the reply was lost. Connections
  are built with a zero-retry policy, and this client retries only read-only
  commands, on ``ConnectionError`` (never on ``TimeoutError``, so a stalled
  server fails within ``SOCKET_TIMEOUT``). A connection lost during the ``EXEC`` of a
  watched transaction raises that error, not ``WatchError`` (see
  :meth:`LimpydPipeline._exec_connection_lost`).
* **Observers.** Callables registered on the client see every command (and
  every pipeline as one round trip) with its duration. With none registered
  the cost is one truth test per command. They back command logging and
  ``django_limpyd.test.commands.assert_num_commands``.
* **Not from an event loop.** A command sent from a thread running an event loop
  raises Django's ``SynchronousOnlyOperation`` (unless ``DJANGO_ALLOW_ASYNC_UNSAFE``
  is set), as Django's ORM does: async code uses the async API
  (:mod:`django_limpyd.aio`).

redis-py internals used here, and only here (everything else in django_limpyd
uses documented redis-py API, or the named functions and methods below):

* ``redis.client.Pipeline``, subclassed, and built as ``Pipeline(connection_pool,
  response_callbacks, transaction, shard_hint)`` like ``Redis.pipeline()`` does.
* The pipeline's private hook called when the connection fails during
  ``execute()``: ``_disconnect_raise_on_watching`` (redis-py >= 6) or
  ``_disconnect_raise_reset`` (redis-py 5), overridden so that a lost EXEC is
  never turned into a ``WatchError`` (which makes ``transaction()`` run it again).
  Chosen by version; the import fails if the hook is missing (a renamed hook
  would silently bring the double writes back).
* ``immediate_execute_command`` and ``execute`` of the pipeline, overridden to
  notify the observers.
* The pipeline's attributes ``command_stack`` (a list of ``(args, options)``),
  ``watching``, ``explicit_transaction`` and ``transaction``: read (and one entry
  of ``command_stack`` replaced) only through :meth:`LimpydPipeline.queued_count`,
  :meth:`~LimpydPipeline.queued_commands`, :meth:`~LimpydPipeline.replace_queued`,
  :meth:`~LimpydPipeline.is_watching` and :meth:`~LimpydPipeline.sends_at_once`.
* ``redis.Redis.execute_command`` called on our client, skipping
  :class:`LimpydRedis`'s override (observers, read retries): :func:`send_unobserved`.
* ``redis.Redis(protocol=2).response_callbacks``, redis-py's RESP2 reply parsers
  keyed by upper-case command name: :func:`resp2_reply_callbacks`.
* ``Retry._retries`` on redis-py 5, which has no ``Retry.get_retries()``:
  :func:`retry_count`.

Tested with redis-py 5.0.8, the oldest supported (``make test-redis-py-oldest``,
with django-redis 7.0.0; 5.0.0 passed the same tests once, by hand), and 8.1.0, the
newest (``make test``): ``tests/test_client_adapter.py`` covers each of the methods
above. On redis-py 5 our connections speak RESP2 (its default); on 8.1, RESP3.
"""

from __future__ import annotations

import os
import re
import time
from asyncio import _get_running_loop
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from django_limpyd.durability import current as current_durability


def _major_minor(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


#: The installed redis-py, as (major, minor).
REDIS_PY_VERSION = _major_minor(redis.__version__)

#: The name of redis-py's private hook that ``Pipeline.execute`` calls, with
#: ``(connection, error, ...)``, when the connection fails during the round trip.
EXEC_FAILURE_HOOK = (
    "_disconnect_raise_reset" if REDIS_PY_VERSION < (6, 0) else "_disconnect_raise_on_watching"
)
if not callable(getattr(Pipeline, EXEC_FAILURE_HOOK, None)):
    raise ImportError(
        f"django_limpyd does not support redis-py {redis.__version__}: its Pipeline has no "
        f"{EXEC_FAILURE_HOOK}(), through which a lost EXEC is kept from running twice "
        "(see django_limpyd/client.py)."
    )

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


def retry_count(retry: Retry) -> int:
    """How many times ``retry`` sends a failed command again (0 for :func:`no_retry`).

    ``Retry.get_retries()`` appeared in redis-py 6; redis-py 5 only has ``_retries``."""
    if REDIS_PY_VERSION < (6, 0):
        return retry._retries
    return retry.get_retries()


def refuse_in_event_loop() -> None:
    """Raise Django's ``SynchronousOnlyOperation`` when called in a thread running an
    event loop (a sync call from async code would block the loop), unless
    ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set, as Django's ORM does. Callers test
    ``_get_running_loop() is not None`` first (a C call): the sync path pays nothing
    more."""
    if _get_running_loop() is None or os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        return
    from django.core.exceptions import SynchronousOnlyOperation

    raise SynchronousOnlyOperation(
        "You cannot call this from an async context - use a thread or sync_to_async, "
        "or django_limpyd's async API (await Model.acreate(...), await field.aget(), "
        "await Model.objects.aget(...): see docs/orm/async.rst)."
    )


def _notify(observers: list[Observer], commands: list[tuple[Any, ...]], start: float) -> None:
    duration = time.perf_counter() - start
    for observer in list(observers):
        observer(commands, duration)


class LimpydPipeline(Pipeline):
    """A pipeline whose execution is reported to the client's observers.

    Commands sent at once (``WATCH``, reads between ``watch()`` and ``multi()``)
    are reported one round trip each, like the client's.

    Its state (what is queued, what is watched) is read through the methods
    below, never through redis-py's attributes.
    """

    _limpyd_observers: list[Observer]

    # -- the queue and the watch, read through named methods ----------------------------

    def queued_count(self) -> int:
        """The number of commands queued for :meth:`execute` (``MULTI``/``EXEC`` not
        counted). The next command queued gets this position in the results."""
        return len(self.command_stack)

    def queued_commands(self) -> list[tuple[Any, ...]]:
        """The arguments of each queued command, in order (a copy)."""
        return [args for args, _options in self.command_stack]

    def replace_queued(self, position: int, args: Sequence[Any]) -> None:
        """Send ``args`` instead of the command queued at ``position``; its reply is
        parsed as the replaced one's was to be (same command, same options).
        ``IndexError`` if nothing is queued there."""
        _args, options = self.command_stack[position]
        self.command_stack[position] = (tuple(args), options)

    def is_watching(self) -> bool:
        """True between a ``WATCH`` and the end of the transaction (``execute()``,
        ``reset()``, or the loss of the connection, which ends the watch)."""
        return bool(self.watching)

    def sends_at_once(self) -> bool:
        """True if a command is sent now rather than queued: keys are watched and
        ``multi()`` was not called yet (redis-py's own rule, in ``execute_command``)."""
        return bool(self.watching and not self.explicit_transaction)

    # -- redis-py overrides --------------------------------------------------------------

    def _exec_connection_lost(self, conn: Any, error: Exception, *args: Any) -> None:
        """A connection lost during EXEC: disconnect and let the error itself propagate.

        redis-py turns it into a ``WatchError`` when keys were watched, and a
        ``transaction()`` then runs its function again: but EXEC may have been
        applied, with only its reply lost, so running it again could apply the writes
        twice. A ``ConnectionError`` (or ``TimeoutError``) says "unknown outcome".

        Installed as redis-py's private hook :data:`EXEC_FAILURE_HOOK` (its arguments
        after ``error`` vary between versions; with the zero-retry policy of our
        connections, ``execute()`` raises ``error`` right after).
        """
        conn.disconnect()
        self.watching = False  # the watch died with the connection: no UNWATCH to send

    if EXEC_FAILURE_HOOK == "_disconnect_raise_reset":  # redis-py 5
        _disconnect_raise_reset = _exec_connection_lost
    else:  # redis-py >= 6
        _disconnect_raise_on_watching = _exec_connection_lost

    def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        """redis-py's, reported to the observers as one round trip."""
        if _get_running_loop() is not None:
            refuse_in_event_loop()
        observers = self._limpyd_observers
        if not observers:
            return super().immediate_execute_command(*args, **options)
        start = time.perf_counter()
        try:
            return super().immediate_execute_command(*args, **options)
        finally:
            _notify(observers, [args], start)

    #: the client that built the pipeline (its durability applies), if any
    _limpyd_client: Any = None
    #: while True, ``reset()`` keeps the connection (for the WAIT of a durable batch)
    _limpyd_hold = False

    def reset(self) -> None:
        """redis-py's; the connection is kept while a durable batch waits (see
        :meth:`execute`)."""
        if not self._limpyd_hold:
            return super().reset()
        connection, self.connection = self.connection, None
        super().reset()
        self.connection = connection
        return None

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """redis-py's, reported to the observers as one round trip; for a durable
        database, followed by ``WAIT`` on the same connection (see
        :mod:`django_limpyd.durability`)."""
        client = self._limpyd_client
        if client is not None and client.limpyd_master_switched:
            client._follow_switch()
        if client is not None and client.limpyd_durable_possible:
            durability = current_durability(client)
            if durability is not None and any(
                _command_name(args) not in READ_ONLY_COMMANDS for args in self.queued_commands()
            ):
                return self._execute_durably(raise_on_error, durability)
        return self._execute_observed(raise_on_error)

    def _execute_durably(self, raise_on_error: bool, durability: Any) -> list[Any]:
        from django_limpyd.durability import DurabilityError, check_support

        client = self._limpyd_client
        if client is not None:
            check_support(client, durability)
        self._limpyd_hold = True
        try:
            results = self._execute_observed(raise_on_error)
            connection = self.connection
            wait = durability.command()
            start = time.perf_counter()
            try:
                connection.send_command(*wait)
                acknowledged = connection.read_response()
            except BaseException:
                connection.disconnect()
                raise
            finally:
                if self._limpyd_observers:
                    _notify(self._limpyd_observers, [wait], start)
        finally:
            self._limpyd_hold = False
            self.reset()
        try:
            durability.check("a pipeline", acknowledged)
        except DurabilityError:
            if client is not None:
                client._rediscover()
            raise
        return results

    def _execute_observed(self, raise_on_error: bool) -> list[Any]:
        if _get_running_loop() is not None:
            refuse_in_event_loop()
        observers = self._limpyd_observers
        if not observers:
            return super().execute(raise_on_error)
        commands = self.queued_commands()
        if self.transaction and commands:
            commands = [("MULTI",), *commands, ("EXEC",)]
        start = time.perf_counter()
        try:
            return super().execute(raise_on_error)
        finally:
            _notify(observers, commands, start)


class LimpydRedis(redis.Redis):
    """``redis.Redis`` that retries only reads and reports commands to observers."""

    #: the durability of its database's settings (see :mod:`django_limpyd.durability`)
    limpyd_durability: Any = None
    #: False until durability is set or a ``durable()`` block used it: one check per command
    limpyd_durable_possible = False

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
        if _get_running_loop() is not None:
            refuse_in_event_loop()
        if self.limpyd_master_switched:
            self._follow_switch()
        if self.limpyd_durable_possible:
            durability = current_durability(self)
            if durability is not None and _command_name(args) not in READ_ONLY_COMMANDS:
                return self._execute_durably(args, options, durability)
        observers = self._limpyd_observers
        start = time.perf_counter() if observers else 0.0
        try:
            return self._execute_with_read_retries(args, options)
        finally:
            if observers:
                _notify(observers, [args], start)

    def _execute_durably(
        self, args: tuple[Any, ...], options: dict[str, Any], durability: Any
    ) -> Any:
        """The write and ``WAIT`` (``WAITAOF``) in one round trip on one connection."""
        from django_limpyd.durability import DurabilityError, check_support

        check_support(self, durability)
        pipe = self.pipeline(transaction=False)
        pipe._limpyd_client = None  # the WAIT is queued here
        pipe.execute_command(*args, **options)
        pipe.execute_command(*durability.command())
        reply, acknowledged = pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        try:
            durability.check(_command_name(args), acknowledged)
        except DurabilityError:
            self._rediscover()
            raise
        return reply

    def _rediscover(self) -> None:
        """After an unconfirmed write: a Sentinel pool asks Sentinel for the master again
        at the next command (a planned failover may have promoted another server while
        this one still takes writes)."""
        if hasattr(self.connection_pool, "get_master_address"):
            self.connection_pool.disconnect()

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

    #: the Sentinel watcher of its pool, if any (see :mod:`django_limpyd.sentinel_watch`)
    limpyd_watcher: Any = None
    #: set by the watcher when Sentinel switched the master: idle connections are dropped
    #: before the next command
    limpyd_master_switched = False

    def _follow_switch(self) -> None:
        self.limpyd_master_switched = False
        self.connection_pool.disconnect(inuse_connections=False)

    def disconnect(self) -> None:
        """Close every connection of the pool (the client can connect again); stop
        its Sentinel watcher."""
        if self.limpyd_watcher is not None:
            self.limpyd_watcher.stop()
        self.connection_pool.disconnect()

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> LimpydPipeline:
        pipe = LimpydPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe._limpyd_observers = self._limpyd_observers
        pipe._limpyd_client = self
        return pipe


def _command_name(args: Sequence[Any]) -> str:
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return name.upper()


def send_unobserved(client: Any, *args: Any, **options: Any) -> Any:
    """Send one command on ``client`` (a :class:`LimpydRedis`, or any ``redis.Redis``)
    unseen by its observers (command counts, logging), and without this module's read
    retries: redis-py's own ``execute_command``, :class:`LimpydRedis`'s override
    skipped. A cluster client (``redis.RedisCluster``) sends it with redis-py's
    ``RedisCluster.execute_command`` (``target_nodes=`` may pick the nodes)."""
    if isinstance(client, redis.RedisCluster):
        return redis.RedisCluster.execute_command(client, *args, **options)
    return redis.Redis.execute_command(client, *args, **options)


def resp2_reply_callbacks() -> dict[str, Callable[..., Any]]:
    """redis-py's parsers of RESP2 replies, by upper-case command name (a new dict).

    For replies that are RESP2 arrays whatever the connection's protocol, such as
    Lua tables returned by scripts and functions. Built without connecting."""
    return dict(redis.Redis(protocol=2).response_callbacks.items())
