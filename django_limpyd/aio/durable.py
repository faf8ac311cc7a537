"""Durable writes on the async transport (see :mod:`django_limpyd.durability`).

A write command, or the commands of a pipeline (``MULTI`` ... ``EXEC`` for a
transaction), is sent **followed by** ``WAIT <replicas> <ms>`` (or ``WAITAOF 1
<replicas> <ms>``) on one connection of the pool, in one round trip: ``WAIT`` waits
for the writes of its own connection. The replies are parsed as redis-py parses each
command's; fewer acknowledgements than asked raise
:class:`~django_limpyd.durability.DurabilityError` (the writes are applied, nothing is
sent again). A connection that fails or is cancelled meanwhile is closed, never reused
with unread replies.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from redis.exceptions import ExecAbortError, ResponseError, WatchError

from django_limpyd.client import _notify
from django_limpyd.durability import Durability, acheck_support

__all__ = ["asend_durably", "round_trip"]


async def _callback(client: Any, args: tuple[Any, ...], options: dict[str, Any], reply: Any) -> Any:
    """``reply`` (one command's, inside an ``EXEC`` reply) parsed as redis-py does."""
    if isinstance(reply, Exception):
        return reply
    callback = client.response_callbacks.get(args[0])
    if callback is None:
        return reply
    options = {k: v for k, v in options.items() if k not in ("keys", "NEVER_DECODE")}
    parsed = callback(reply, **options)
    return await parsed if inspect.isawaitable(parsed) else parsed


async def _read(client: Any, connection: Any, name: str, **options: Any) -> Any:
    try:
        return await client.parse_response(connection, name, **options)
    except ResponseError as error:
        return error


async def round_trip(
    parser: Any,
    connection: Any,
    commands: list[tuple[tuple[Any, ...], dict[str, Any]]],
    transaction: bool,
    wait: tuple[Any, ...] | None,
    observers: list[Any],
) -> tuple[list[Any], Any]:
    """Send ``commands`` (``(args, options)``; in ``MULTI``/``EXEC`` with
    ``transaction``), then ``wait`` (``WAIT``/``WAITAOF``, or ``None``), on
    ``connection``, in one round trip; read every reply. ``parser``: what parses the
    replies (the client, or on a cluster the :class:`~redis.asyncio.cluster.ClusterNode`
    of the connection). Returns the replies (parsed, errors in place) and the wait's
    reply (``None`` without one). ``WatchError`` when a transaction did not run (a
    watched key changed), the queueing error when the server refused one (nothing
    ran). The connection is disconnected if anything fails or is cancelled meanwhile
    (never reused with unread replies); releasing it is the caller's. Observers see
    one round trip."""
    sent = [args for args, _options in commands]
    if transaction:
        sent = [("MULTI",), *sent, ("EXEC",)]
    if wait is not None:
        sent.append(wait)
    start = time.perf_counter()
    acknowledged = None
    try:
        await connection.send_packed_command(connection.pack_commands(sent))
        if transaction:
            queued = [await _read(parser, connection, "_") for _ in range(len(commands) + 1)]
            executed = await _read(parser, connection, "_")
        else:
            replies = [
                await _read(parser, connection, args[0], **dict(options))
                for args, options in commands
            ]
        if wait is not None:
            acknowledged = await _read(parser, connection, str(wait[0]))
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        if observers:
            _notify(observers, sent, start)
    if transaction:
        if isinstance(executed, ExecAbortError):
            errors = [reply for reply in queued if isinstance(reply, ResponseError)]
            raise errors[0] if errors else executed
        if isinstance(executed, Exception):
            raise executed
        if executed is None:
            raise WatchError("Watched variable changed.")
        replies = [
            await _callback(parser, args, options, reply)
            for (args, options), reply in zip(commands, executed, strict=True)
        ]
    return replies, acknowledged


async def asend_durably(
    client: Any,
    commands: list[tuple[tuple[Any, ...], dict[str, Any]]],
    transaction: bool,
    durability: Durability,
    what: str,
) -> list[Any]:
    """Send ``commands`` (``(args, options)``; in ``MULTI``/``EXEC`` with
    ``transaction``) then the durability's wait, in one round trip on one connection
    of ``client`` (an :class:`~django_limpyd.aio.client.AsyncLimpydRedis`); their
    replies, errors in place. ``DurabilityError`` naming ``what`` when too few copies
    are confirmed; ``WatchError`` / the queueing error when a transaction did not run."""
    await acheck_support(client, durability)
    pool = client.connection_pool
    connection = await pool.get_connection()
    try:
        replies, acknowledged = await round_trip(
            client,
            connection,
            commands,
            transaction,
            durability.command(),
            client._limpyd_observers,
        )
    finally:
        await pool.release(connection)
    if not all(isinstance(reply, Exception) for reply in replies):  # else nothing written
        durability.check(what, acknowledged)
    return replies
