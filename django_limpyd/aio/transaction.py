"""WATCH transactions on the async transport: ``await database.atransaction(func,
*watches)``, the async twin of :meth:`~django_limpyd.database.RedisDatabase.transaction`.

``func(pipeline)`` (a coroutine function, or a plain one) gets an async pipeline of the
database (:class:`~django_limpyd.aio.apipeline.AsyncPipeline`) whose keys are watched:
until it calls ``pipeline.multi()``, the async commands of the current task on the
database (field reads and writes, ``acreate``, ``adelete``, raw commands through
``pipeline.connection``) are sent at once, on the connection that holds the ``WATCH``;
after it, they are queued, and ``pipeline.execute()`` sends them in ``MULTI``/``EXEC``
on that connection, in one round trip. A watched key changed meanwhile (by anyone,
this task included): ``EXEC`` runs nothing, and ``func`` runs again, as on the sync
path, until a run goes through.

One connection is held for the whole run (:class:`HeldConnection`):

* on one server, taken from the pool of the database's async client;
* on a Redis Cluster, a connection of the primary of the watched slot: every watched
  key must live in one slot (else :class:`~django_limpyd.client_cluster.
  CrossSlotBatchError` naming the keys and their slots, before anything is sent), and
  so must the queued commands (else the same error, before ``EXEC``). Commands sent at
  once for keys of other slots go through the cluster client as usual.

The guarantees of the rest of the async API hold: a connection lost or cancelled while
the watch is held is closed, never reused, and the error raised as is, never turned
into a ``WatchError`` (an ``EXEC`` whose reply was lost may have been applied: it is
not run again); observers see ``WATCH``, each command sent at once, and ``MULTI`` ...
``EXEC`` as one round trip each, as on the sync path. With durable writes
(:mod:`django_limpyd.durability`), ``WAIT`` follows ``EXEC`` on the same connection, in
the same round trip (writes sent at once, before ``multi()``, do not wait).
"""

from __future__ import annotations

import inspect
from typing import Any

from redis.exceptions import MovedError, RedisError, ResponseError, WatchError

from django_limpyd.aio.cluster import is_async_cluster
from django_limpyd.aio.durable import round_trip
from django_limpyd.client_cluster import CrossSlotBatchError
from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage import functions

__all__ = ["HeldConnection", "atransaction", "watched_keys"]


def watched_keys(watches: tuple[Any, ...]) -> list[str]:
    """The keys of ``watches``: keys (strings) or fields of instances."""
    return [watch if isinstance(watch, str) else watch.key for watch in watches]


class HeldConnection:
    """One connection of an async client, held from ``WATCH`` to ``EXEC`` (see the
    module)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = is_async_cluster(client)
        #: the slot of the watched keys (on a cluster)
        self.slot: int | None = None
        self.connection: Any = None
        #: what parses the replies: the client, or the cluster node of the connection
        self.parser: Any = None
        self.node: Any = None
        #: True between WATCH and EXEC (or UNWATCH)
        self.watching = False

    # -- the connection ------------------------------------------------------------

    async def _acquire(self) -> None:
        if self.connection is not None:
            return
        if self.cluster:
            client = self.client
            if client._initialize:
                await client.initialize()
            self.node = self.parser = client.nodes_manager.get_node_from_slot(self.slot)
            self.connection = self.node.acquire_connection()
            await self.node.disconnect_if_needed(self.connection)
        else:
            self.parser = self.client
            self.connection = await self.client.connection_pool.get_connection()

    async def release(self) -> None:
        """Give the connection back (``UNWATCH`` first, unobserved, if still watching)."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            if self.watching:
                self.watching = False
                try:
                    await connection.send_command("UNWATCH")
                    await connection.read_response()
                except BaseException:
                    await connection.disconnect()  # the watch dies with the connection
                    raise
        finally:
            if self.cluster:
                self.node.release(connection)
            else:
                await self.client.connection_pool.release(connection)

    async def _send(
        self, commands: list[tuple[tuple[Any, ...], dict[str, Any]]], transaction: bool, wait: Any
    ) -> tuple[list[Any], Any]:
        await self._acquire()
        try:
            return await round_trip(
                self.parser, self.connection, commands, transaction, wait,
                self.client._limpyd_observers,
            )  # fmt: skip
        except BaseException:
            self.watching = False  # disconnected by round_trip, or EXEC done
            raise

    # -- what a transaction sends ----------------------------------------------------

    def check_slot(self, keys: list[str], what: str) -> None:
        """On a cluster: ``CrossSlotBatchError`` unless ``keys`` all live in the slot of
        the watched keys (the first ones given set it)."""
        if not self.cluster or not keys:
            return
        slots = {key: self.client.keyslot(key) for key in keys}
        wanted = self.slot if self.slot is not None else next(iter(slots.values()))
        others = {key: slot for key, slot in slots.items() if slot != wanted}
        if others:
            shown = ", ".join(f"{key!r} (slot {slot})" for key, slot in slots.items())
            raise CrossSlotBatchError(
                f"A WATCH transaction on a Redis Cluster runs on the node of one slot: "
                f"{what} {shown} live in {len(set(slots.values()) | {wanted})} slots"
                + (f" (the watched keys are in slot {self.slot})" if self.slot is not None else "")
                + ". Give the models one hash_tag (see docs/scaling.rst). Nothing was sent."
            )
        self.slot = wanted

    async def watch(self, keys: list[str]) -> None:
        """``WATCH keys`` (one round trip). On a cluster, a ``MOVED`` reply (the slot
        moved: nothing is watched) updates the client's slot table and raises
        ``WatchError``: the transaction runs again, on the new owner."""
        if not keys:
            raise RedisError("WATCH needs at least one key.")
        self.check_slot(keys, "the watched keys")
        (reply,), _ack = await self._send([(("WATCH", *keys), {})], False, None)
        if isinstance(reply, MovedError):
            await self.release()
            await self.client.nodes_manager.move_slot(reply)
            raise WatchError(f"The slot of the watched keys moved: {reply}")
        if isinstance(reply, Exception):
            raise reply
        self.watching = True

    async def owns(self, args: tuple[Any, ...]) -> bool:
        """True if the command ``args`` goes on this connection (on a cluster: if its
        keys live in the watched slot)."""
        if not self.cluster:
            return True
        return self.slot is not None and await self.client._determine_slot(*args) == self.slot

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Send one command at once, on this connection if it :meth:`owns` it, else
        through the client; its reply (an error reply raised)."""
        if not await self.owns(args):
            return await self.client.execute_command(*args, **options)
        (reply,), _ack = await self._send([(args, options)], False, None)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def execute_transaction(
        self, commands: list[tuple[tuple[Any, ...], dict[str, Any]]]
    ) -> list[Any]:
        """``MULTI`` ``commands`` ``EXEC`` (then ``WAIT`` with durability) in one round
        trip; the replies, errors in place. ``WatchError`` if a watched key changed
        (nothing ran)."""
        if self.cluster:
            slots = {}
            for args, _options in commands:
                slot = await self.client._determine_slot(*args)
                slots.setdefault(slot, args)
            if self.slot is None and slots:
                self.slot = next(iter(slots))
            others = {slot: args for slot, args in slots.items() if slot != self.slot}
            if others:
                slot, args = next(iter(others.items()))
                raise CrossSlotBatchError(
                    f"A WATCH transaction on a Redis Cluster runs on the node of one slot "
                    f"({self.slot}, the watched keys'); {' '.join(map(str, args[:3]))} "
                    f"lives in slot {slot}. Give the models one hash_tag (see "
                    "docs/scaling.rst). Nothing was sent."
                )
        durability = self.client._durability_of([args for args, _options in commands])
        wait = durability.command() if durability is not None else None
        if durability is not None:
            await self._check_support(durability)
        replies, acknowledged = await self._send(commands, True, wait)
        self.watching = False  # EXEC ends the watch
        if wait is not None and not all(isinstance(reply, Exception) for reply in replies):
            durability.check("a transaction", acknowledged)
        return replies

    async def _check_support(self, durability: Any) -> None:
        if self.cluster:
            from django_limpyd.aio.cluster_durable import acheck_node_support

            await self._acquire()
            await acheck_node_support(self.node, durability)
        else:
            from django_limpyd.durability import acheck_support

            await acheck_support(self.client, durability)


class _WatchedPipe:
    """What :func:`~django_limpyd.aio.pipelines.arun_calls` sends a watched transaction
    through: redis-py's pipeline interface, on a :class:`HeldConnection`."""

    def __init__(self, held: HeldConnection) -> None:
        self.held = held
        self.commands: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def execute_command(self, *args: Any, **options: Any) -> _WatchedPipe:
        self.commands.append((args, options))
        return self

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        commands, self.commands = self.commands, []
        replies = await self.held.execute_transaction(commands)
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, ResponseError):
                    raise reply
        return replies


class HeldClient:
    """The async client as seen by a function call sent at once while keys are watched:
    its knowledge of the server (libraries loaded), its loads, and commands sent on the
    :class:`HeldConnection` (:func:`~django_limpyd.aio.functions.arun` takes it as its
    client)."""

    def __init__(self, held: HeldConnection) -> None:
        self._held = held
        self._client = held.client
        #: what is known of the server is the client's
        self.__dict__["_limpyd_server_state"] = functions._state(held.client)
        #: loads go through the client (on every primary of a cluster)
        self._limpyd_cluster = held.cluster

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        return await self._held.execute_command(*args, **options)

    async def send_unobserved(self, *args: Any, **options: Any) -> Any:
        return await self._client.send_unobserved(*args, **options)

    async def aload_on_primaries(self, source: str) -> None:
        await self._client.aload_on_primaries(source)


async def atransaction(database: Any, func: Any, watches: tuple[Any, ...]) -> list[Any]:
    """:meth:`~django_limpyd.database.RedisDatabase.atransaction` (see the module)."""
    from django_limpyd.aio.connections import get_client

    client = get_client(database)

    async def run() -> list[Any]:
        while True:
            async with database.apipeline() as pipeline:
                try:
                    if watches:
                        await pipeline.watch(*watches)
                    value = func(pipeline)
                    if inspect.isawaitable(value):
                        await value
                    return await pipeline.execute()
                except WatchError:
                    continue

    if is_async_cluster(client):  # one operation slot of the client for the whole run
        return await client._bounded(run)
    return await run()


def not_while_watching(what: str) -> ImplementationError:
    """The error of an operation that cannot be sent at once while keys are watched."""
    return ImplementationError(
        f"{what} sends several commands: it cannot run between pipeline.watch() and "
        "pipeline.multi() (call pipeline.multi() first: it is then queued)."
    )
