"""The ``redis.asyncio`` client of a database, and its pipeline: the async transport.

Built from the sync client of the same database (:func:`build_async_client`), so from
the same parsed settings (``LIMPYD_DATABASES`` through django-redis's factory, or the
arguments of a hand-built database): same server, credentials, timeouts, decoding
and protocol. It behaves like :class:`django_limpyd.client.LimpydRedis`:

* **No blind retries of writes.** Connections get a zero-retry policy; only the
  commands of :data:`django_limpyd.client.READ_ONLY_COMMANDS` are sent again after a
  ``ConnectionError``, ``READ_RETRIES`` times (never after a ``TimeoutError``).
* **Observers.** The database's observers (command logging,
  ``assert_num_commands``) see every command, and every pipeline as one round trip.
* **A bounded pool that waits.** As many connections as the sync pool allows
  (redis-py's default: 100); a task needing one more waits for a free one, up to
  ``SOCKET_TIMEOUT``, rather than failing (``BlockingConnectionPool``).
* **Durable writes** (:mod:`django_limpyd.durability`): a write command, or a pipeline
  holding one, is sent with ``WAIT`` (``WAITAOF``) in the same round trip, on the same
  connection (:mod:`django_limpyd.aio.durable`).

A Redis Cluster database gets an async cluster client instead
(:mod:`django_limpyd.aio.cluster`); a Sentinel-managed pool, an async one
(:mod:`django_limpyd.aio.sentinel`).
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import redis
import redis.asyncio
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import connection as async_connection
from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from django_limpyd.client import READ_ONLY_COMMANDS, Observer, _notify
from django_limpyd.durability import current as current_durability

__all__ = ["AsyncLimpydPipeline", "AsyncLimpydRedis", "build_async_client"]

#: the async connection class of each sync one django-redis' factory may use
_CONNECTION_CLASSES = {
    redis.connection.Connection: async_connection.Connection,
    redis.connection.UnixDomainSocketConnection: async_connection.UnixDomainSocketConnection,
    redis.connection.SSLConnection: async_connection.SSLConnection,
}

#: sync connection arguments that are not passed on (the async transport sets its own)
_NOT_PASSED = frozenset(
    {"parser_class", "retry", "redis_connect_func", "event_dispatcher", "command_packer"}
)


def async_no_retry() -> AsyncRetry:
    """The retry policy of every async connection: never retry at that level."""
    return AsyncRetry(NoBackoff(), 0)


def _accepted(connection_class: type) -> set[str]:
    names: set[str] = set()
    for klass in connection_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names - {"self", "kwargs"}


class AsyncLimpydPipeline(AsyncPipeline):
    """redis-py's async pipeline, its execution reported to the observers."""

    _limpyd_observers: list[Observer]

    _limpyd_client: Any = None

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """redis-py's, reported to the observers as one round trip; with durability,
        the commands then ``WAIT`` in that round trip (see :mod:`django_limpyd.aio.durable`)."""
        client = self._limpyd_client
        durability = None
        if client is not None and client._limpyd_watcher is not None:
            await client._follow_switch()
        if client is not None:
            durability = client._durability_of([args for args, _options in self.command_stack])
        if durability is not None:
            return await self._execute_durably(raise_on_error, durability)
        observers = self._limpyd_observers
        if not observers:
            return await super().execute(raise_on_error)
        commands = [args for args, _options in self.command_stack]
        if self.is_transaction and commands:
            commands = [("MULTI",), *commands, ("EXEC",)]
        start = time.perf_counter()
        try:
            return await super().execute(raise_on_error)
        finally:
            _notify(observers, commands, start)

    async def _execute_durably(self, raise_on_error: bool, durability: Any) -> list[Any]:
        from django_limpyd.aio.durable import asend_durably
        from django_limpyd.exceptions import ImplementationError

        if self.watching:
            await self.reset()
            raise ImplementationError(
                "A pipeline with watched keys cannot wait for replicas on the async "
                "transport; run it inside database.durable(replicas=None)."
            )
        commands = [(args, dict(options)) for args, options in self.command_stack]
        transaction = self.is_transaction or self.explicit_transaction
        await self.reset()
        replies = await asend_durably(
            self._limpyd_client, commands, transaction, durability, "a pipeline"
        )
        if raise_on_error:
            self.raise_first_error(commands, replies)
        return replies


class AsyncLimpydRedis(redis.asyncio.Redis):
    """``redis.asyncio.Redis`` that retries only reads and reports commands to observers."""

    def __init__(self, *args: Any, read_retries: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_retries = read_retries
        self._limpyd_observers: list[Observer] = []

    #: the sync client this one was built from (its durability settings apply)
    _limpyd_sync: Any = None

    def _durability_of(self, commands: list[tuple[Any, ...]]) -> Any:
        """The durability ``commands`` are sent with now (see
        :mod:`django_limpyd.durability`): ``None`` without one, or if none writes."""
        sync = self._limpyd_sync
        if sync is None or not getattr(sync, "limpyd_durable_possible", False):
            return None
        durability = current_durability(sync)
        if durability is None:
            return None
        for args in commands:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            if name.upper() not in READ_ONLY_COMMANDS:
                return durability
        return None

    #: the Sentinel watcher of the sync client (see :mod:`django_limpyd.aio.sentinel`),
    #: and how many master switches it had heard when this client last looked
    _limpyd_watcher: Any = None
    _limpyd_switches = 0

    async def _follow_switch(self) -> None:
        """Drop the idle connections if Sentinel switched the master since last time."""
        switches = self._limpyd_watcher.switches
        if switches != self._limpyd_switches:
            self._limpyd_switches = switches
            await self.connection_pool.disconnect(inuse_connections=False)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self._limpyd_watcher is not None:
            await self._follow_switch()
        durability = self._durability_of([args])
        if durability is not None:
            from django_limpyd.aio.durable import asend_durably

            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            (reply,) = await asend_durably(self, [(args, options)], False, durability, name)
            if isinstance(reply, Exception):
                raise reply
            return reply
        observers = self._limpyd_observers
        start = time.perf_counter() if observers else 0.0
        try:
            return await self._execute_with_read_retries(args, options)
        finally:
            if observers:
                _notify(observers, [args], start)

    async def _execute_with_read_retries(
        self, args: tuple[Any, ...], options: dict[str, Any]
    ) -> Any:
        attempts = 0
        while True:
            try:
                return await super().execute_command(*args, **options)
            except RedisConnectionError:
                name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
                if attempts >= self.read_retries or name.upper() not in READ_ONLY_COMMANDS:
                    raise
                attempts += 1

    async def send_unobserved(self, *args: Any, **options: Any) -> Any:
        """One command unseen by the observers and without read retries (library loads)."""
        return await redis.asyncio.Redis.execute_command(self, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> AsyncLimpydPipeline:
        pipe = AsyncLimpydPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe._limpyd_observers = self._limpyd_observers
        pipe._limpyd_client = self
        return pipe

    async def close_all(self) -> None:
        """Close the client and every connection of its pool."""
        await self.aclose()
        await self.connection_pool.disconnect()


def build_async_client(sync_client: Any, observers: list[Observer]) -> Any:
    """An async client to the server of ``sync_client`` (a :class:`LimpydRedis`), with
    the same connection arguments, decoding, protocol and read retries; reporting to
    ``observers`` (the database's list, shared with the sync client). Connects on first
    use, in the running event loop."""
    from django_limpyd.client_cluster import is_cluster

    if is_cluster(sync_client):
        from django_limpyd.aio.cluster import build_async_cluster_client

        return build_async_cluster_client(sync_client, observers)
    pool = getattr(sync_client, "connection_pool", None)
    if pool is None:
        raise ImproperlyConfigured(
            f"{type(sync_client).__name__}: django_limpyd's async API has no transport "
            "for this client; use the sync API (through sync_to_async) there."
        )
    from django_limpyd.aio.sentinel import build_async_sentinel_pool, is_sentinel_pool

    if is_sentinel_pool(pool):
        client = AsyncLimpydRedis(
            connection_pool=build_async_sentinel_pool(pool, _NOT_PASSED, async_no_retry()),
            read_retries=getattr(sync_client, "read_retries", 1),
        )
        client._limpyd_observers = observers
        client._limpyd_sync = sync_client
        watcher = getattr(sync_client, "limpyd_watcher", None)
        if watcher is not None:  # follow the master switches it hears
            client._limpyd_watcher = watcher
            client._limpyd_switches = watcher.switches
        return client
    connection_class = _CONNECTION_CLASSES.get(pool.connection_class)
    if connection_class is None:
        raise ImproperlyConfigured(
            f"django_limpyd's async API has no async transport for connections of class "
            f"{pool.connection_class.__name__}; use "
            "the sync API (through sync_to_async) with this database."
        )
    accepted = _accepted(connection_class)
    kwargs = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in accepted and name not in _NOT_PASSED
    }
    kwargs["retry"] = async_no_retry()
    kwargs["decode_responses"] = True
    # tasks are many and cheap: beyond max_connections they wait for a connection (up
    # to SOCKET_TIMEOUT) instead of failing with "Too many connections"
    async_pool = async_connection.BlockingConnectionPool(
        connection_class=connection_class,
        max_connections=pool.max_connections,
        timeout=kwargs.get("socket_timeout") or 20,
        **kwargs,
    )
    client = AsyncLimpydRedis(
        connection_pool=async_pool, read_retries=getattr(sync_client, "read_retries", 1)
    )
    client._limpyd_observers = observers
    client._limpyd_sync = sync_client
    return client
