"""Following a moved instance on the async transport: the twin of
:func:`django_limpyd.sharding.reshard.follow` (and of ``locate``, ``find``).

An async write of an instance of a model being resharded that the move refused
(:class:`~django_limpyd.exceptions.Redirected`, or ``DoesNotExist`` for an instance no
longer in the shard its class says) ran nowhere: as in sync code, the instance is given
the class of where it is now (waiting for a move in progress), then the write is
planned and sent again. The same steps, decisions and messages as the sync path
(``rehome``, ``old_shard_of_pk``, ``creation_shard``, ``WAIT``); only the round trips
are awaited, on the async client, and the waits are ``asyncio.sleep``. Inside an async
pipeline nothing is sent again: the error is the command's, as in a sync pipeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django_limpyd.exceptions import DoesNotExist, ImplementationError, Redirected, UniquenessError
from django_limpyd.sharding import reshard
from django_limpyd.sharding.layout import creation_shard

__all__ = ["afind", "afollow", "alocate", "follows"]


def follows(instance: Any, error: BaseException) -> bool:
    """True if ``error``, raised by an async call on ``instance``, is a move to follow."""
    return (
        instance is not None
        and type(instance)._meta.layout is not None
        and isinstance(error, (Redirected, DoesNotExist))
    )


async def _exists_in(shard: type, pk: str) -> bool:
    """Whether ``pk`` is an instance of the shard model ``shard`` (``_pks_exist``)."""
    from django_limpyd.aio.connections import get_client, get_read_client
    from django_limpyd.aio.functions import acall_read_only

    meta = shard._meta
    database = meta.database
    if meta.expirable:  # before its deadline (expiry.alive)
        reply = await acall_read_only(
            get_read_client(database),
            get_client(database),
            meta.library,
            "deadlines",
            [meta.keys.pks],
            [pk],
        )
        return int(reply[0]) != -2
    return await get_read_client(database).zscore(meta.keys.pks, pk) is not None


async def alocate(facade: type, pk: str) -> type | None:
    """:func:`~django_limpyd.sharding.reshard.locate` on the async transport."""
    from django_limpyd.aio.connections import get_client

    meta = facade._meta
    old = meta.previous_shard_models[reshard.old_shard_of_pk(meta, pk)]
    new = meta.shard_model_of(pk)
    if meta.expirable:
        for shard in (old, new):
            if await _exists_in(shard, pk):
                return shard
        return None
    client = get_client(meta.database)
    pipe = client.pipeline(transaction=False)
    pipe.zscore(old._meta.keys.pks, pk)
    pipe.zscore(new._meta.keys.pks, pk)
    in_old, in_new = await pipe.execute()
    if in_old is not None:
        return old
    if in_new is not None:
        return new
    # found nowhere: on a Redis Cluster the two reads may have crossed the move (read
    # in parallel); read again in order, the old layout first
    if await client.zscore(old._meta.keys.pks, pk) is not None:
        return old
    return new if await client.zscore(new._meta.keys.pks, pk) is not None else None


async def afind(instance: Any) -> None:
    """:func:`~django_limpyd.sharding.reshard.find` on the async transport."""
    where = await alocate(reshard.facade_of(type(instance)), instance._pk)
    if where is None:
        raise instance.DoesNotExist(f"{type(instance).__name__} {instance._pk!r} does not exist.")
    reshard.rehome(instance, where)


async def _acreation_model(facade: type, pk: str | None) -> type:
    """``creation_model`` once the old layout is closed (a pk given must not be in it)."""
    meta = facade._meta
    if pk is None:
        return reshard.creation_model(facade, None)
    old = meta.previous_shard_models[reshard.old_shard_of_pk(meta, pk)]
    if await _exists_in(old, pk):
        raise UniquenessError(f"{facade.__name__} {pk!r} already exists.")
    return meta.shard_models[creation_shard(meta, pk)]


async def _await_unfenced(shard: type, pk: str, deadline: float) -> None:
    from django_limpyd.aio.connections import get_client

    client = get_client(shard._meta.database)
    while await client.hexists(shard._meta.keys.moves, pk):
        if time.monotonic() > deadline:
            raise ImplementationError(
                f"{shard._meta.label} {pk!r} has been being moved to the new layout for more "
                f"than {reshard.WAIT:g} s (an interrupted limpyd_reshard? run it again to "
                "finish); nothing was written."
            )
        await asyncio.sleep(reshard._POLL)


async def afollow(
    instance: Any,
    error: Exception,
    retry: Callable[[], Awaitable[Any]],
    creating: str | None = None,
) -> Any:
    """:func:`~django_limpyd.sharding.reshard.follow` on the async transport: ``instance``
    given the class of where it is, then ``await retry()``; its result."""
    facade = reshard.facade_of(type(instance))
    meta = facade._meta
    deadline = time.monotonic() + reshard.WAIT
    while True:
        code = error.code if isinstance(error, Redirected) else "MISSING"
        pk = instance._pk
        if code == "CLOSED":
            meta._reshard_closed = True
            reshard.rehome(instance, await _acreation_model(facade, creating))
        elif code == "NOTREADY":
            if time.monotonic() > deadline:
                raise ImplementationError(
                    f"{facade.__name__}: the new layout's AutoPK counters are not set yet "
                    f"after {reshard.WAIT:g} s (limpyd_reshard interrupted? run it again); "
                    "nothing was written."
                ) from None
            await asyncio.sleep(reshard._POLL)
        else:
            if pk is None:
                raise error
            if code == "MOVING":
                await _await_unfenced(type(instance), pk, deadline)
            where = await alocate(facade, pk)
            if where is None or (code == "MISSING" and where is type(instance)):
                raise error
            reshard.rehome(instance, where)
        try:
            return await retry()
        except (Redirected, DoesNotExist) as again:
            error = again
            if time.monotonic() > deadline:
                raise
