"""The async methods of collections: ``aget``, ``acount``, ``aexists``, ``afirst``,
``alast``, ``async for``.

They plan exactly as their sync twins (``_plan``: the same plan, the same one round
trip) and run the plan on the async transport with :func:`arun_plan`, which sends the
same direct index reads or the same call of the model's read-only ``collection``
function, and turns its errors into the same exceptions, with the sync code's own
error handling (``collection.plan``), given the reply the async transport received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from django.db.models import Q
from redis.exceptions import ResponseError

__all__ = ["AsyncQuerySetMethods", "arun_plan"]


class _Replay:
    """A stand-in client for the sync code that answers its one command with a reply (or
    error reply) the async transport already received, knowing what ``client`` knows
    of the server (functions or scripts, libraries loaded)."""

    def __init__(self, client: Any, answer: Any) -> None:
        self.__dict__["_limpyd_server_state"] = client.__dict__["_limpyd_server_state"]
        self._answer = answer

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if isinstance(self._answer, BaseException):
            raise self._answer
        return self._answer


async def arun_plan(model: type, plan: dict[str, Any]) -> Any:
    """:func:`django_limpyd.collection.plan.run_plan` on the async transport: to a
    replica when the database has some (as ``run_plan``: the library loaded on the
    primary, the call on the primary while the replica lacks it)."""
    from django_limpyd.aio.connections import get_client, get_read_client
    from django_limpyd.aio.functions import acall_read_only, aensure_loaded
    from django_limpyd.collection import plan as planning
    from django_limpyd.storage.functions import ScriptError

    meta = model._meta
    primary = get_client(meta.database)
    await aensure_loaded(primary, meta.library)  # what it learns decides the direct reads
    client = get_read_client(meta.database)
    direct = planning.direct_read(plan, primary)
    if direct is not None:
        commands, combine = direct
        if len(commands) == 1:
            return combine([await client.execute_command(*commands[0])])
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return combine(await pipe.execute())
    args = [planning.dumps(plan)]
    try:
        answer = await acall_read_only(
            client, primary, meta.library, "collection", [meta.keys.pks], args
        )
    except (ScriptError, ResponseError) as error:  # raised by the sync error handling
        answer = error
    replay = _Replay(primary, answer)
    return planning._call(model, replay, replay, "collection", args)


class AsyncQuerySetMethods:
    """The async methods of :class:`~django_limpyd.collection.CollectionManager` (mixed
    in), named as Django's ``QuerySet`` names them."""

    async def _afetch(self) -> list[Any]:
        if self._cache is None:
            plan = self._plan(count=False)
            replies = [] if plan is None else await arun_plan(self.model, plan)
            self._cache = self._result.convert(replies)
        return self._cache

    async def _aslice(self, start: int, stop: int) -> list[Any]:
        if self._cache is not None:
            return self._cache[start:stop]
        return await self._clone(_query=self._query.sliced_by(slice(start, stop)))._afetch()

    def __aiter__(self) -> AsyncIterator[Any]:
        """``async for obj in collection``: evaluated in one round trip (as ``for``)."""
        return self._aiterate()

    async def _aiterate(self) -> AsyncIterator[Any]:
        for item in await self._afetch():
            yield item

    async def alist(self) -> list[Any]:
        """``list(collection)`` from async code."""
        return list(await self._afetch())

    async def acount(self) -> int:
        """:meth:`count` from async code (the same round trip)."""
        if self._cache is not None:
            return len(self._cache)
        if self._query.sliced:
            return len(await self._afetch())
        counter = self._clone(_query=self._query.unordered())
        if counter._counted_by_fetching():
            plan = counter._plan(count=False)
            if plan is None:
                return 0
            plan.pop("values", None)
            return len(await arun_plan(self.model, plan))
        plan = counter._plan(count=True)
        return 0 if plan is None else await arun_plan(self.model, plan)

    async def aexists(self) -> bool:
        """:meth:`exists` from async code (asks for one pk only)."""
        return bool(await self._aslice(0, 1))

    async def afirst(self) -> Any:
        """:meth:`first` from async code: the first result, or ``None``."""
        results = await self._aslice(0, 1)
        return results[0] if results else None

    async def alast(self) -> Any:
        """:meth:`last` from async code: the last result, or ``None``."""
        if self._query.sliced or getattr(self, "_source", None) is not None:
            results = await self._afetch()  # a stored collection cannot be reversed
            return results[-1] if results else None
        return await self.reverse().afirst()

    async def aget(self, *args: Any, **filters: Any) -> Any:
        """:meth:`get` from async code: the one instance matching (``DoesNotExist``,
        ``MultipleObjectsReturned`` otherwise)."""
        conditions = tuple(arg for arg in args if isinstance(arg, Q))
        args = tuple(arg for arg in args if not isinstance(arg, Q))
        if args:
            if len(args) > 1:
                raise TypeError("aget() takes at most one pk")
            filters = {"pk": args[0], **filters}
        collection = self._filter(filters, conditions).primary_keys()
        pks = await collection._aslice(0, 2)
        model = self.model
        if len(pks) == 1:
            return model._connected(pks[0], checked=True)
        parts = [*map(str, conditions), *([repr(filters)] if filters or not conditions else [])]
        asked = " and ".join(parts)
        if not pks:
            raise model.DoesNotExist(f"No {model.__name__} matches {asked}.")
        raise model.MultipleObjectsReturned(f"More than one {model.__name__} matches {asked}.")
