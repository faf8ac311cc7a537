"""Durable writes on an async Redis Cluster client: the async twin of
:mod:`django_limpyd.cluster_durable`.

``WAIT`` waits for the writes of *its* connection, so a durable write is sent on a
connection of the primary of its slot, followed there by ``WAIT`` (``WAITAOF``), in
one round trip (:func:`~django_limpyd.aio.durable.round_trip`):

* one command: ``cmd WAIT``;
* a batch without a transaction: its commands grouped by node, ``cmd... WAIT`` on
  each node (one round trip per node, one node after the other);
* a transaction (one slot, so one node): ``MULTI cmd... EXEC WAIT``; a transaction
  holding keys of two slots is refused before anything is sent
  (:class:`~django_limpyd.client_cluster.CrossSlotBatchError`).

Fewer acknowledgements than asked on a node raise
:class:`~django_limpyd.durability.DurabilityError` once every node answered (the
writes are applied, nothing is sent again). A single command answered ``MOVED`` (it
ran nothing: its slot moved) is sent again to the new owner, after the client
updated its slot table. With ``AOF``, each node's version is asked once (``INFO
server``, unseen by the observers): before Redis 7.2,
:class:`~django_limpyd.durability.DurabilityUnsupported`, nothing sent.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from redis.exceptions import MovedError

from django_limpyd.aio.durable import round_trip
from django_limpyd.durability import Durability, DurabilityError, _refuse_old, _version

__all__ = ["acheck_node_support", "asend_durably_on_cluster"]

#: how many times a durable command answered MOVED is sent to the new owner
MOVED_ATTEMPTS = 3


async def acheck_node_support(node: Any, durability: Durability) -> None:
    """Raise :class:`~django_limpyd.durability.DurabilityUnsupported` if ``node`` (a
    ``redis.asyncio`` :class:`ClusterNode`) cannot give ``durability``; its version is
    asked once per node object."""
    if not durability.aof:
        return
    version = node.__dict__.get("_limpyd_redis_version")
    if version is None:
        info = await node.execute_command("INFO", "server")
        version = node.__dict__["_limpyd_redis_version"] = _version(info)
    shown = SimpleNamespace(
        connection_pool=SimpleNamespace(connection_kwargs={"host": node.host, "port": node.port})
    )
    _refuse_old(shown, version)


async def _send_to_node(
    client: Any,
    node: Any,
    commands: list[tuple[tuple[Any, ...], dict[str, Any]]],
    transaction: bool,
    durability: Durability,
) -> tuple[list[Any], Any]:
    connection = node.acquire_connection()
    try:
        await node.disconnect_if_needed(connection)
        return await round_trip(
            node, connection, commands, transaction, durability.command(),
            client._limpyd_observers,
        )  # fmt: skip
    finally:
        node.release(connection)


async def asend_durably_on_cluster(
    client: Any,
    commands: list[tuple[tuple[Any, ...], dict[str, Any]]],
    transaction: bool,
    durability: Durability,
    what: str,
) -> list[Any]:
    """Send ``commands`` (``(args, options)``) durably on ``client`` (an
    :class:`~django_limpyd.aio.cluster.AsyncLimpydRedisCluster`), as the module says;
    their replies, in order, errors in place."""
    from django_limpyd.aio.cluster import _cross_slot_error

    if client._initialize:
        await client.initialize()
    for _attempt in range(MOVED_ATTEMPTS):
        slots: dict[int, list[int]] = {}
        for position, (args, _options) in enumerate(commands):
            slots.setdefault(await client._determine_slot(*args), []).append(position)
        if transaction and len(slots) > 1:
            raise _cross_slot_error(
                {
                    slot: [SimpleNamespace(args=commands[position][0]) for position in positions]
                    for slot, positions in slots.items()
                }
            )
        groups: dict[Any, list[int]] = {}
        for slot, positions in slots.items():
            node = client.nodes_manager.get_node_from_slot(slot)
            groups.setdefault(node, []).extend(positions)
        for node in groups:  # every node checked before anything is sent
            await acheck_node_support(node, durability)
        results: list[Any] = [None] * len(commands)
        short: list[DurabilityError] = []
        for node, positions in groups.items():
            positions.sort()
            replies, acknowledged = await _send_to_node(
                client,
                node,
                [commands[position] for position in positions],
                transaction,
                durability,
            )
            for position, reply in zip(positions, replies, strict=True):
                results[position] = reply
            if not all(isinstance(reply, Exception) for reply in replies):
                try:
                    durability.check(what, acknowledged)
                except DurabilityError as error:
                    short.append(error)
        if short:
            raise min(short, key=lambda error: error.acknowledged)
        moved = results[0] if len(results) == 1 else None
        if not isinstance(moved, MovedError):
            return results
        await client.nodes_manager.move_slot(moved)  # it ran nothing: to the new owner
    return results
