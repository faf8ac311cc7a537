"""The async transport of a database on a Redis Cluster: a ``redis.asyncio`` cluster
client per event loop, built from the sync :class:`~django_limpyd.client_cluster.
LimpydRedisCluster` of the same database (same seed nodes, credentials, TLS and
timeouts), with its guarantees:

* **decoded replies**;
* **no blind retries of writes**: the cluster-level retry policy sends nothing again
  after a connection error (MOVED and ASK redirections, which mean "not run here",
  are still followed; a command redirected for longer than ``slot_move_wait`` while
  its slot moves fails, having run nothing); read-only commands are sent again up to
  ``READ_RETRIES`` times, after the client refreshed its view of the cluster;
* **observers** see every command, and a pipeline as one round trip;
* **one round trip for our calls**: the slot of ``FCALL``/``FCALL_RO`` (and of the
  other commands whose keys redis-py would ask the server for) is computed from the
  arguments.

Pipelines (:class:`AsyncLimpydClusterPipeline`): without a transaction, commands are
grouped by node, one round trip per node. A transaction (``MULTI``/``EXEC``) runs on
one node and must stay within one slot: a transaction holding keys of two slots is
refused with :class:`~django_limpyd.client_cluster.CrossSlotBatchError` naming both
hash tags, before anything is sent (the sync pipeline refuses the command when it is
queued; the async one when it is executed). ``WATCH`` is not offered by these
pipelines: ``database.atransaction()`` runs its WATCH/MULTI/EXEC on a connection of
the node of the watched slot (:mod:`django_limpyd.aio.transaction`).

Durable writes (``database.durable()``, ``OPTIONS["DURABILITY"]``): a write, or the
commands of a pipeline, are sent on a connection of the primary of their slot followed
by ``WAIT`` there, in one round trip per node (:mod:`django_limpyd.aio.cluster_durable`).

redis-py internals used here, and only here: the ``TransactionStrategy`` of
``redis.asyncio.cluster`` (its ``_command_queue``, ``_pipeline_slots`` and
``_execute_transaction_with_retries``), and ``RedisCluster._determine_slot``,
overridden. redis-py's own ``TransactionStrategy.execute_command`` runs each queued
command in a new thread with its own event loop; ours queues without one.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from typing import Any

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.cluster import TransactionStrategy as _TransactionStrategy
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ClusterError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError

from django_limpyd.client import READ_ONLY_COMMANDS, Observer, _notify
from django_limpyd.client_cluster import (
    _FIRST_KEY_COMMANDS,
    _NUMKEYS_COMMANDS,
    CrossSlotBatchError,
    _first_key,
    slot_move_deadline,
)
from django_limpyd.durability import current as current_durability
from django_limpyd.storage.compiler import key_hash_tag as hash_tag

__all__ = [
    "AsyncLimpydClusterPipeline",
    "AsyncLimpydRedisCluster",
    "build_async_cluster_client",
    "is_async_cluster",
]

#: connection arguments of the sync cluster client not passed on (the async client
#: sets its own, or has no such argument)
_NOT_PASSED = frozenset(
    {
        "retry",
        "redis_connect_func",
        "connection_class",
        "event_dispatcher",
        "oss_cluster_maint_notifications_handler",
        "maint_notifications_config",
        "decode_responses",
        "host",
        "port",
        "db",
    }
)


#: True while the current task holds one of its client's operation slots (so that a
#: redirection sent again by a pipeline it runs does not wait for another)
_HOLDING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "limpyd_async_cluster_slot", default=False
)


def is_async_cluster(client: Any) -> bool:
    """True if ``client`` is an async Redis Cluster client (or stands for one: see
    :class:`django_limpyd.aio.transaction.HeldClient`)."""
    return isinstance(client, RedisCluster) or bool(getattr(client, "_limpyd_cluster", False))


def _name(args: tuple[Any, ...]) -> str:
    name = args[0]
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


def _slot_from_arguments(client: RedisCluster, args: tuple[Any, ...]) -> int | None:
    """The slot of a command whose keys its arguments give (``FCALL`` ..., ``SORT``):
    without the ``COMMAND GETKEYS`` round trip redis-py would make; ``None`` for others."""
    name = _name(args)
    positions = _NUMKEYS_COMMANDS.get(name)
    if positions is not None and len(args) > positions[0]:
        count_at, first = positions
        keys = args[first : first + int(args[count_at])]
        if keys:
            slots = {client.keyslot(key) for key in keys}
            if len(slots) != 1:
                raise RedisClusterException(f"{name} - all keys must map to the same key slot")
            return slots.pop()
    elif name in _FIRST_KEY_COMMANDS and len(args) > 1:
        return client.keyslot(args[1])
    return None


class _OneSlotTransaction(_TransactionStrategy):
    """redis-py's transaction strategy, queueing without a thread per command, and
    checking at execution that every queued command lives in one slot (a
    :class:`CrossSlotBatchError` naming the hash tags otherwise, nothing sent)."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if _name(args) in self.IMMEDIATE_EXECUTE_COMMANDS:
            raise RedisClusterException(
                f"{_name(args)}: the async pipelines of a Redis Cluster do not watch keys."
            )
        self._command_queue.append(_pipeline_command(len(self._command_queue), args, kwargs))
        return self._pipe

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        stack = self._command_queue
        if not stack:
            return []
        client = self._pipe.cluster_client
        if client._initialize:
            await client.initialize()
        slots: dict[int, list[Any]] = {}
        for command in stack:
            slot = await client._determine_slot(*command.args)
            slots.setdefault(slot, []).append(command)
        if len(slots) > 1:
            raise _cross_slot_error(slots)
        self._pipeline_slots = set(slots)
        return await self._execute_transaction_with_retries(stack, raise_on_error)


def _pipeline_command(position: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from redis.asyncio.cluster import PipelineCommand

    return PipelineCommand(position, *args, **kwargs)


def _cross_slot_error(slots: dict[int, list[Any]]) -> CrossSlotBatchError:
    (first_slot, first), *others = slots.items()
    held = sorted({hash_tag(key) for command in first for key in _first_key(command.args)})
    other_slot, commands = others[0]
    after = sorted({hash_tag(key) for command in commands for key in _first_key(command.args)})
    return CrossSlotBatchError(
        f"A transaction on a Redis Cluster runs within one slot: it holds keys of "
        f"{', '.join(held) or _name(first[0].args)} (slot {first_slot}), and "
        f"{', '.join(after) or _name(commands[0].args)} lives in another slot ({other_slot}). "
        "Give the models one hash_tag (see docs/scaling.rst), or use "
        "apipeline(transaction=False)."
    )


class AsyncLimpydClusterPipeline(ClusterPipeline):
    """redis-py's async cluster pipeline, reported to the client's observers as one
    round trip; a transaction confined to one slot (:class:`_OneSlotTransaction`)."""

    def __init__(self, client: AsyncLimpydRedisCluster, transaction: bool = False) -> None:
        super().__init__(client, bool(transaction))
        if transaction:
            self._execution_strategy = _OneSlotTransaction(self)
        #: True for a MULTI/EXEC pipeline
        self.transaction = bool(transaction)

    def queued_commands(self) -> list[tuple[Any, ...]]:
        """The arguments of each queued command, in order (a copy)."""
        return [tuple(command.args) for command in self._execution_strategy._command_queue]

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        client: AsyncLimpydRedisCluster = self.cluster_client  # type: ignore[assignment]
        commands = self.queued_commands()
        durability = client._durability_of(commands)
        if durability is not None:
            return await self._execute_durably(raise_on_error, durability)
        observers = client._limpyd_observers

        async def send() -> Any:
            return await ClusterPipeline.execute(self, raise_on_error, allow_redirections)

        if not observers or not commands:
            return await client._bounded(send)
        if self.transaction:
            commands = [("MULTI",), *commands, ("EXEC",)]
        start = time.perf_counter()
        try:
            return await client._bounded(send)
        finally:
            _notify(observers, commands, start)

    async def _execute_durably(self, raise_on_error: bool, durability: Any) -> list[Any]:
        """The queued commands then ``WAIT``, per node (see
        :mod:`django_limpyd.aio.cluster_durable`); the pipeline is emptied."""
        from django_limpyd.aio.cluster_durable import asend_durably_on_cluster

        client: AsyncLimpydRedisCluster = self.cluster_client  # type: ignore[assignment]
        queue = self._execution_strategy._command_queue
        commands = [(tuple(command.args), dict(command.kwargs)) for command in queue]
        queue.clear()
        replies = await client._bounded(
            lambda: asend_durably_on_cluster(
                client, commands, self.transaction, durability, "a pipeline"
            )
        )
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies


class AsyncLimpydRedisCluster(RedisCluster):
    """``redis.asyncio.cluster.RedisCluster`` that retries only reads and reports
    commands to observers."""

    #: how long a command redirected again and again (its slot is being moved: it ran
    #: nothing) is sent again before the error reaches the caller, in seconds
    slot_move_wait = 10.0

    #: the sync client this one was built from (its durability settings apply)
    _limpyd_sync: Any = None

    def __init__(self, *args: Any, read_retries: int = 1, **kwargs: Any) -> None:
        kwargs["retry"] = AsyncRetry(NoBackoff(), 0)
        kwargs["decode_responses"] = True
        super().__init__(*args, **kwargs)
        self.read_retries = read_retries
        self._limpyd_observers: list[Observer] = []
        #: operations in flight at once: each holds at most one connection per node,
        #: so no node is asked for more than ``max_connections``; a task needing one
        #: more waits (up to ``socket_timeout``) instead of failing
        self._slots_total = kwargs.get("max_connections", 100)
        self._slots = asyncio.Semaphore(self._slots_total)
        self._slot_timeout = kwargs.get("socket_timeout") or 20

    async def _bounded(self, send: Any) -> Any:
        """``await send()`` holding one of the operation slots of this client."""
        if _HOLDING.get():
            return await send()
        try:
            await asyncio.wait_for(self._slots.acquire(), self._slot_timeout)
        except TimeoutError:
            raise RedisConnectionError(
                f"No free connection to the Redis Cluster within {self._slot_timeout} s "
                f"(max_connections={self._slots_total} per node)."
            ) from None
        token = _HOLDING.set(True)
        try:
            return await send()
        finally:
            _HOLDING.reset(token)
            self._slots.release()

    async def _determine_slot(self, *args: Any) -> int:
        slot = _slot_from_arguments(self, args)
        if slot is not None:
            return slot
        return await super()._determine_slot(*args)

    def _durability_of(self, commands: list[tuple[Any, ...]]) -> Any:
        """The durability ``commands`` are sent with now (see
        :mod:`django_limpyd.durability`): ``None`` without one, or if none writes."""
        sync = self._limpyd_sync
        if sync is None or not getattr(sync, "limpyd_durable_possible", False):
            return None
        durability = current_durability(sync)
        if durability is None:
            return None
        if any(_name(args) not in READ_ONLY_COMMANDS for args in commands):
            return durability
        return None

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if "target_nodes" not in kwargs:
            durability = self._durability_of([args])
            if durability is not None:
                return await self._execute_durably(args, kwargs, durability)
        observers = self._limpyd_observers
        start = time.perf_counter() if observers else 0.0
        try:
            return await self._execute_with_read_retries(args, kwargs)
        finally:
            if observers:
                _notify(observers, [args], start)

    async def _execute_with_read_retries(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        attempts = 0
        deadline = None
        while True:
            try:
                return await self._bounded(
                    lambda: RedisCluster.execute_command(self, *args, **dict(kwargs))
                )
            except ClusterError as error:
                deadline = slot_move_deadline(error, self, args[0], deadline)
                await asyncio.sleep(0.05)
            except RedisConnectionError:
                if attempts >= self.read_retries or _name(args) not in READ_ONLY_COMMANDS:
                    raise
                attempts += 1

    async def _execute_durably(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], durability: Any
    ) -> Any:
        """One write and ``WAIT`` on a connection of the primary of its slot
        (:mod:`django_limpyd.aio.cluster_durable`)."""
        from django_limpyd.aio.cluster_durable import asend_durably_on_cluster

        (reply,) = await self._bounded(
            lambda: asend_durably_on_cluster(
                self, [(args, dict(kwargs))], False, durability, _name(args)
            )
        )
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def send_unobserved(self, *args: Any, **options: Any) -> Any:
        """One command unseen by the observers and without read retries (library loads)."""
        return await RedisCluster.execute_command(self, *args, **options)

    async def aload_on_primaries(self, source: str) -> None:
        """``FUNCTION LOAD source`` on every primary, unobserved (a replica gets it from
        its primary; a primary that already has it says so)."""
        from redis.exceptions import ResponseError

        if self._initialize:
            await self.initialize()
        for node in sorted(self.get_primaries(), key=lambda node: node.name):
            try:
                await self.send_unobserved("FUNCTION", "LOAD", source, target_nodes=node)
            except ResponseError as error:
                if "already exists" not in str(error):
                    raise

    def pipeline(
        self, transaction: Any = None, shard_hint: Any = None
    ) -> AsyncLimpydClusterPipeline:
        if shard_hint:
            raise RedisClusterException("shard_hint is not used in cluster mode")
        return AsyncLimpydClusterPipeline(self, bool(transaction))

    async def aclose(self) -> None:
        """Close every connection to every node. Called by redis-py from within an
        operation (a MOVED every ``reinitialize_steps``, a CLUSTERDOWN), it only asks
        for a new view of the cluster before the next command: closing there would cut
        the connections other tasks have commands in flight on (a write cut so fails,
        though it may have run)."""
        if _HOLDING.get():
            self._initialize = True
            return
        await super().aclose()

    async def close_all(self) -> None:
        """Close every connection to every node (the client can connect again)."""
        await self.aclose()


def _accepted() -> set[str]:
    return set(inspect.signature(RedisCluster.__init__).parameters) - {"self"}


def build_async_cluster_client(
    sync_client: Any, observers: list[Observer]
) -> AsyncLimpydRedisCluster:
    """An async client of the cluster of ``sync_client`` (a :class:`~django_limpyd.
    client_cluster.LimpydRedisCluster`): every node it knows as a seed, its connection
    arguments (credentials, TLS, timeouts), decoding and read retries; reporting to
    ``observers``. Connects on first use, in the running event loop."""
    from redis.connection import SSLConnection

    manager = sync_client.nodes_manager
    connection_kwargs = dict(manager.connection_kwargs)
    accepted = _accepted()
    kwargs = {
        name: value
        for name, value in connection_kwargs.items()
        if name in accepted and name not in _NOT_PASSED
    }
    connection_class = connection_kwargs.get("connection_class")
    if connection_class is not None and issubclass(connection_class, SSLConnection):
        kwargs["ssl"] = True
    seeds = [ClusterNode(node.host, node.port) for node in manager.startup_nodes.values()]
    client = AsyncLimpydRedisCluster(
        startup_nodes=seeds,
        read_retries=getattr(sync_client, "read_retries", 1),
        **kwargs,
    )
    client._limpyd_observers = observers
    client._limpyd_sync = sync_client
    return client
