"""The redis-py client of a database on a Redis Cluster, and the one module that
depends on redis-py's cluster internals (as :mod:`django_limpyd.client` does for
the plain client).

:class:`LimpydRedisCluster` is a ``redis.RedisCluster`` with the guarantees of
:class:`~django_limpyd.client.LimpydRedis`:

* **decoded responses**;
* **no blind retries of writes**: the cluster-level retry policy sends nothing
  again after a connection error (MOVED and ASK redirections, which mean "not run
  here", are still followed); read-only commands are sent again up to
  ``read_retries`` times, after the client refreshed its view of the cluster;
* **observers** see every command, and a pipeline as one round trip per node;
* **one round trip for our calls**: the slot of ``FCALL``/``FCALL_RO`` (and of a few
  other commands whose keys redis-py asks the server for with ``COMMAND GETKEYS``)
  is computed from the arguments.

:class:`LimpydClusterPipeline` is redis-py's ``ClusterPipeline`` with the named
methods :class:`django_limpyd.pipelines.Pipeline` reads the queue through. Without
a transaction, queued commands are grouped by node: one round trip per node. A
transaction (``MULTI``/``EXEC``, ``WATCH``) runs on one node and must stay within one
slot; a command of another slot is refused when it is queued, naming both hash tags
(:class:`CrossSlotBatchError`).

redis-py internals used here, and only here: ``ClusterPipeline._execution_strategy``
(its ``command_queue`` of ``PipelineCommand`` objects with ``args``, and for a
transaction its ``_watching``, ``_explicit_transaction`` and ``_pipeline_slots``),
and ``RedisCluster.determine_slot``, overridden. Cluster support needs a redis-py
whose cluster pipelines run transactions (``redis.cluster.TransactionStrategy``,
redis-py >= 6.2): :func:`check_support`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import ClusterError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError

from django_limpyd.client import READ_ONLY_COMMANDS, Observer, _notify, no_retry
from django_limpyd.durability import current as current_durability
from django_limpyd.storage.compiler import key_hash_tag as hash_tag

__all__ = [
    "CrossSlotBatchError",
    "LimpydClusterPipeline",
    "LimpydRedisCluster",
    "WholeKeyspace",
    "check_support",
    "client_of_key",
    "is_cluster",
    "primary_clients",
    "slot_move_deadline",
]

#: commands whose keys follow a key count: (position of the count, position of the first key)
_NUMKEYS_COMMANDS = {
    "FCALL": (2, 3),
    "FCALL_RO": (2, 3),
    "EVAL": (2, 3),
    "EVALSHA": (2, 3),
    "EVAL_RO": (2, 3),
    "EVALSHA_RO": (2, 3),
    "SINTERCARD": (1, 2),
    "ZINTERCARD": (1, 2),
}

#: commands whose (first) key is their first argument, though redis-py asks the server
_FIRST_KEY_COMMANDS = frozenset({"SORT", "SORT_RO"})


def check_support() -> None:
    """Raise ``ImproperlyConfigured`` if the installed redis-py cannot run our cluster
    client (its cluster pipelines must support transactions)."""
    from django.core.exceptions import ImproperlyConfigured

    if not hasattr(redis.cluster, "TransactionStrategy"):
        raise ImproperlyConfigured(
            f"Redis Cluster databases need redis-py >= 6.2 (installed: {redis.__version__}), "
            "whose cluster pipelines run MULTI/EXEC transactions."
        )


def client_of_key(client: Any, key: str) -> Any:
    """A client of the node holding ``key``: ``client`` itself on one server, the plain
    client of that node's primary on a Redis Cluster (for node-wide commands such as a
    ``SCAN`` of one model's keys, which all live in the slot of ``key``)."""
    if not is_cluster(client):
        return client
    return client.get_redis_connection(client.get_node_from_key(key))


def primary_clients(client: Any) -> list[Any]:
    """A client per primary, in a stable order: ``[client]`` on one server."""
    if not is_cluster(client):
        return [client]
    nodes = sorted(client.get_primaries(), key=lambda node: node.name)
    return [client.get_redis_connection(node) for node in nodes]


def is_cluster(client: Any) -> bool:
    """True if ``client`` (a client or pipeline) talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def slot_move_deadline(
    error: ClusterError, client: Any, command: Any, deadline: float | None
) -> float:
    """When a command may be sent again after ``error``: redis-py's redirections ran
    out (TRYAGAIN, ASK, MOVED: nothing ran) while its slot is being moved. Returns the
    deadline (``client.slot_move_wait`` seconds after the first such error); raises
    ``error`` if it is another one, a clear ``ClusterError`` once the deadline passed."""
    if "TTL exhausted" not in str(error):
        raise error
    deadline = deadline or time.monotonic() + client.slot_move_wait
    if time.monotonic() > deadline:
        raise ClusterError(
            f"{command}: redirected (MOVED, ASK or TRYAGAIN) for {client.slot_move_wait} s: "
            f"its slot is being moved (nothing ran; {type(client).__name__}.slot_move_wait "
            "sets how long to wait)"
        ) from error
    return deadline


class CrossSlotBatchError(RedisClusterException):
    """A transaction on a Redis Cluster was given keys of two slots."""


def _first_key(args: Sequence[Any]) -> list[str]:
    """The first key of a command (none if it has no key), for messages."""
    positions = _NUMKEYS_COMMANDS.get(str(args[0]).upper())
    if positions is not None:
        count_at, first = positions
        if len(args) > first and int(args[count_at]) > 0:
            return [str(args[first])]
        return []
    return [str(args[1])] if len(args) > 1 else []


class _SlotsFromArguments:
    """``determine_slot`` without a ``COMMAND GETKEYS`` round trip for our commands."""

    def determine_slot(self, *args: Any) -> int | None:
        name = str(args[0]).upper()
        positions = _NUMKEYS_COMMANDS.get(name)
        if positions is not None and len(args) > positions[0]:
            count_at, first = positions
            keys = args[first : first + int(args[count_at])]
            if keys:
                slots = {self.keyslot(key) for key in keys}  # type: ignore[attr-defined]
                if len(slots) != 1:
                    raise RedisClusterException(f"{name} - all keys must map to the same key slot")
                return slots.pop()
        elif name in _FIRST_KEY_COMMANDS and len(args) > 1:
            return self.keyslot(args[1])  # type: ignore[attr-defined]
        return super().determine_slot(*args)  # type: ignore[misc]


class LimpydClusterPipeline(_SlotsFromArguments, ClusterPipeline):
    """A cluster pipeline reported to the client's observers, read through named
    methods (as :class:`~django_limpyd.client.LimpydPipeline`)."""

    _limpyd_observers: list[Observer]

    def __init__(self, *args: Any, transaction: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, transaction=transaction, **kwargs)
        #: True for a MULTI/EXEC pipeline
        self.transaction = bool(transaction)
        self._limpyd_observers = []

    # -- the queue and the watch -----------------------------------------------------

    def _queue(self) -> list[Any]:
        return self._execution_strategy.command_queue

    def queued_count(self) -> int:
        """The number of commands queued for :meth:`execute`."""
        return len(self._queue())

    def queued_commands(self) -> list[tuple[Any, ...]]:
        """The arguments of each queued command, in order (a copy)."""
        return [tuple(command.args) for command in self._queue()]

    def replace_queued(self, position: int, args: Sequence[Any]) -> None:
        """Send ``args`` instead of the command queued at ``position``."""
        self._queue()[position].args = tuple(args)

    def is_watching(self) -> bool:
        """True between a ``WATCH`` and the end of the transaction."""
        return bool(getattr(self._execution_strategy, "_watching", False))

    def sends_at_once(self) -> bool:
        """True if a command is sent now rather than queued (watching, before ``multi()``)."""
        strategy = self._execution_strategy
        return self.is_watching() and not getattr(strategy, "_explicit_transaction", False)

    # -- redis-py overrides --------------------------------------------------------------

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self.transaction:
            self._check_one_slot(args)
        if not self._limpyd_observers or not self.sends_at_once():
            return super().execute_command(*args, **kwargs)
        start = time.perf_counter()
        try:
            return super().execute_command(*args, **kwargs)
        finally:
            _notify(self._limpyd_observers, [args], start)

    def _check_one_slot(self, args: tuple[Any, ...]) -> None:
        if str(args[0]).upper() in ("UNWATCH", "MULTI", "EXEC", "DISCARD"):
            return
        slot = self.determine_slot(*args)
        slots = getattr(self._execution_strategy, "_pipeline_slots", set())
        if slot is None or not slots or slot in slots:
            return
        held = {hash_tag(key) for command in self._queue() for key in _first_key(command.args)}
        before = sorted(held) or ["(watched keys)"]
        after = ", ".join(sorted({hash_tag(key) for key in _first_key(args)})) or str(args[0])
        raise CrossSlotBatchError(
            f"A transaction on a Redis Cluster runs within one slot: it holds keys of "
            f"{', '.join(before)}, and {after} lives in another slot ({slot}). Give the "
            "models one hash_tag (see docs/scaling.rst), or use pipeline(transaction=False)."
        )

    #: the client that built the pipeline (its durability applies), if any
    _limpyd_client: Any = None

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        client = self._limpyd_client
        if client is not None and client.limpyd_durable_possible and self.queued_count():
            durability = current_durability(client)
            writes = any(
                str(a[0]).upper() not in READ_ONLY_COMMANDS for a in self.queued_commands()
            )
            if durability is not None and writes:
                from django_limpyd.cluster_durable import execute_durably

                results = execute_durably(self, durability)
                if raise_on_error:
                    for result in results:
                        if isinstance(result, Exception):
                            raise result
                return results
        queued = (
            [(tuple(c.args), dict(c.options)) for c in self._queue()] if self.transaction else []
        )
        observers = self._limpyd_observers
        if not observers:
            return self._parsed(queued, super().execute(raise_on_error))
        commands = self.queued_commands()
        if self.transaction and commands:
            commands = [("MULTI",), *commands, ("EXEC",)]
        start = time.perf_counter()
        try:
            return self._parsed(queued, super().execute(raise_on_error))
        finally:
            if commands:
                _notify(observers, commands, start)

    def _parsed(self, queued: list[tuple[tuple, dict]], replies: list[Any]) -> list[Any]:
        """Replies of a transaction parsed as a plain client parses them: redis-py's
        cluster transactions apply only the cluster reply callbacks (SMEMBERS would
        come back a list, not a set)."""
        if not queued:
            return replies
        callbacks = self.get_default_node().redis_connection.response_callbacks
        own = self.cluster_response_callbacks
        parsed = []
        for (args, options), reply in zip(queued, replies, strict=False):
            name = str(args[0]).upper()
            callback = callbacks.get(name)
            if callback is not None and name not in own and not isinstance(reply, Exception):
                options = {k: v for k, v in options.items() if k != "keys"}
                reply = callback(reply, **options)
            parsed.append(reply)
        return parsed


class WholeKeyspace:
    """``keys()`` and ``dbsize()`` of a ``RedisCluster`` over every primary (redis-py asks
    only one node)."""

    def keys(self, pattern: str = "*", **kwargs: Any) -> list[str]:
        """``KEYS`` of every primary."""
        kwargs.setdefault("target_nodes", RedisCluster.PRIMARIES)
        return super().keys(pattern, **kwargs)  # type: ignore[misc]

    def dbsize(self, **kwargs: Any) -> int:
        """The number of keys on every primary together."""
        kwargs.setdefault("target_nodes", RedisCluster.PRIMARIES)
        sizes = super().dbsize(**kwargs)  # type: ignore[misc]
        return sum(sizes.values()) if isinstance(sizes, dict) else sizes


class LimpydRedisCluster(_SlotsFromArguments, WholeKeyspace, RedisCluster):
    """``redis.RedisCluster`` that retries only reads and reports commands to observers."""

    def __init__(self, *args: Any, read_retries: int = 1, **kwargs: Any) -> None:
        check_support()
        kwargs.setdefault("retry", no_retry())
        kwargs["decode_responses"] = True
        self.read_retries = read_retries
        self._limpyd_observers: list[Observer] = []
        super().__init__(*args, **kwargs)

    def add_observer(self, observer: Observer) -> None:
        """Start reporting every round trip to ``observer``."""
        self._limpyd_observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop reporting to ``observer``."""
        self._limpyd_observers.remove(observer)

    #: the durability of its database's settings (see :mod:`django_limpyd.durability`)
    limpyd_durability: Any = None
    #: False until durability is set or a ``durable()`` block used it
    limpyd_durable_possible = False

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self.limpyd_durable_possible and "target_nodes" not in kwargs:
            durability = current_durability(self)
            if durability is not None and str(args[0]).upper() not in READ_ONLY_COMMANDS:
                return self._execute_durably(args, kwargs, durability)
        observers = self._limpyd_observers
        start = time.perf_counter() if observers else 0.0
        try:
            return self._execute_with_read_retries(args, kwargs)
        finally:
            if observers:
                _notify(observers, [args], start)

    def _execute_durably(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], durability: Any
    ) -> Any:
        """The write and ``WAIT`` in one round trip on one connection to the primary of
        the write's slot (a redirection, which ran nothing, refreshes the topology and
        sends both again, for up to ``slot_move_wait`` seconds while a slot moves)."""
        from redis.exceptions import AskError, MovedError, TryAgainError

        from django_limpyd.durability import check_support

        options = {k: v for k, v in kwargs.items() if k != "keys"}
        wait = durability.command()
        deadline = time.monotonic() + self.slot_move_wait
        attempt = 0
        while True:
            node = self.nodes_manager.get_node_from_slot(self.determine_slot(*args), False)
            check_support(self.get_redis_connection(node), durability)
            pipe = self.get_redis_connection(node).pipeline(transaction=False)
            pipe.execute_command(*args, **options)
            pipe.execute_command(*wait)
            start = time.perf_counter()
            try:
                reply, acknowledged = pipe.execute(raise_on_error=False)
            finally:
                if self._limpyd_observers:
                    _notify(self._limpyd_observers, [args, wait], start)
            attempt += 1
            redirected = isinstance(reply, (MovedError, AskError, TryAgainError))
            if redirected and time.monotonic() < deadline:
                # ran nothing: the slot moved, or is being moved
                if isinstance(reply, TryAgainError) or attempt > 1:
                    time.sleep(0.05)
                self.nodes_manager.initialize()
                continue
            if isinstance(reply, Exception):
                raise reply
            durability.check(str(args[0]).upper(), acknowledged)
            return reply

    #: how long a command answered ``TRYAGAIN`` (its slot is being moved: it ran nothing)
    #: is sent again before the error reaches the caller, in seconds
    slot_move_wait = 10.0

    def _execute_with_read_retries(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        attempts = 0
        deadline = None
        while True:
            try:
                return super().execute_command(*args, **kwargs)
            except ClusterError as error:
                deadline = slot_move_deadline(error, self, args[0], deadline)
                time.sleep(0.05)
            except RedisConnectionError:
                name = str(args[0]).upper()
                if attempts >= self.read_retries or name not in READ_ONLY_COMMANDS:
                    raise
                attempts += 1

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> LimpydClusterPipeline:
        if shard_hint:
            raise RedisClusterException("shard_hint is not used in cluster mode")
        pipe = LimpydClusterPipeline(
            nodes_manager=self.nodes_manager,
            commands_parser=self.commands_parser,
            startup_nodes=self.nodes_manager.startup_nodes,
            result_callbacks=self.result_callbacks,
            cluster_response_callbacks=self.cluster_response_callbacks,
            read_from_replicas=self.read_from_replicas,
            load_balancing_strategy=self.load_balancing_strategy,
            reinitialize_steps=self.reinitialize_steps,
            retry=self.retry,
            lock=self._lock,
            transaction=bool(transaction),
        )
        pipe._limpyd_observers = self._limpyd_observers
        pipe._limpyd_client = self
        return pipe

    def primaries(self) -> list[ClusterNode]:
        """The primary nodes as this client knows them now."""
        return list(self.get_primaries())

    def disconnect(self) -> None:
        """Close every connection to every node (the client can connect again)."""
        for node in self.get_nodes():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
