"""Writes of unique fields of sharded models on the async transport.

Such a write (a create, ``hset``/``set``/``hmset``..., a delete) runs the protocol of
:mod:`django_limpyd.sharding.unique` in several steps: reserve the value in its
bucket, the write fenced by the token of its reservation, confirm or settle; while the
model is resharded, in the old layout's buckets and the new one's. The protocol is
written once there, as *steps* (a generator yielding what to send); the sync code plans
the write as always (:mod:`django_limpyd.aio.capture`), hands the capture these steps,
and :func:`arun_steps` sends them here on the async client: the same commands in the
same round trips as :func:`~django_limpyd.sharding.unique.run_steps` does on the sync
one, the same crash points (``LIMPYD_SHARD_CRASH_AT``), errors and outcomes. The fenced
write is a WATCH transaction of the async transport (:func:`afenced`:
``database.atransaction``).
"""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.capture import Capture
from django_limpyd.aio.connections import get_client
from django_limpyd.sharding import unique

__all__ = ["afenced", "arun_steps"]


async def arun_steps(steps: unique.Steps, database: Any) -> Any:
    """:func:`~django_limpyd.sharding.unique.run_steps` on the async client of
    ``database``: the result of ``steps``."""
    client = get_client(database)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            if isinstance(step, unique.Fenced):
                reply = await afenced(step)
            elif isinstance(step, unique.Direct):
                reply = await _adirect(step, database, client)
            else:
                pipe = client.pipeline(transaction=False)
                for command in step:
                    pipe.execute_command(*command)
                reply = await pipe.execute()
        except BaseException as exc:  # thrown into the steps: a failed write is settled
            error = exc


async def afenced(step: unique.Fenced) -> Any:
    """Step 2 (:meth:`~django_limpyd.sharding.unique._Reserved.fenced`) on the async
    client: the write planned by ``step.run()`` and sent in ``MULTI``/``EXEC`` while
    the fence of the token is watched, unless the token was revoked; its result."""
    reserved = step.reserved
    model = reserved.model
    database = model._meta.database
    fence = model._meta.keys.fence(reserved.token)

    async def body(pipeline: Any) -> None:
        if await pipeline.connection.execute_command("EXISTS", fence):
            raise unique.revoked(model)
        pipeline.multi()
        with Capture(database) as capture:
            step.run()
        created = tuple(instance for instance in step.instances if instance is not None)
        await pipeline.queue(capture, created)

    token = unique._ACTIVE.set(True)
    try:
        return (await database.atransaction(body, fence))[0]
    finally:
        unique._ACTIVE.reset(token)


async def _adirect(step: unique.Direct, database: Any, client: Any) -> Any:
    """A :class:`~django_limpyd.sharding.unique.Direct` write on the async client."""
    token = unique._ACTIVE.set(True)
    try:
        with Capture(database) as capture:
            result = step.run()
        return await capture.run(result, client, step.instance)
    finally:
        unique._ACTIVE.reset(token)
