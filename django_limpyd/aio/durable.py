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

__all__ = ["asend_durably"]


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
    wait = durability.command()
    sent = [args for args, _options in commands]
    if transaction:
        sent = [("MULTI",), *sent, ("EXEC",)]
    sent.append(wait)
    pool = client.connection_pool
    connection = await pool.get_connection()
    observers = client._limpyd_observers
    start = time.perf_counter()
    try:
        await connection.send_packed_command(connection.pack_commands(sent))
        if transaction:
            queued = [await _read(client, connection, "_") for _ in range(len(commands) + 1)]
            executed = await _read(client, connection, "_")
        else:
            replies = [
                await _read(client, connection, args[0], **dict(options))
                for args, options in commands
            ]
        acknowledged = await _read(client, connection, str(wait[0]))
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
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
            await _callback(client, args, options, reply)
            for (args, options), reply in zip(commands, executed, strict=True)
        ]
    if not all(isinstance(reply, Exception) for reply in replies):  # else nothing written
        durability.check(what, acknowledged)
    return replies
