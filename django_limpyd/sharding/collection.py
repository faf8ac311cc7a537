"""Collections of a sharded model: scattered to every shard, gathered in Python.

A :class:`ShardedCollection` records the calls that build it (filters, ``exclude()``,
sorts, slices, ``values()``...) on the sharded model's own collection, which checks
them at once (a bad filter fails where it is written), and plays them again on the
collection of each shard model when it runs. Each shard runs its own collection
function, all in **one pipeline**: one round trip per node of a Redis Cluster, sent in
parallel by redis-py, one round trip on one server.

* A page ``[offset:offset + limit]`` asks each shard for its first ``offset + limit``
  results, each with its sort values, merges them and keeps the page: a page costs
  ``shards x (offset + limit)``, never the whole model.
* The default order is the pk's (as a number for an AutoPK), as on one shard.
* ``len()`` adds the counts of the shards (Redis counts, no pk is read).
* The async twins (``aget``, ``acount``, ``aexists``, ``afirst``, ``alast``,
  ``alist``, ``async for``) run the same steps (:mod:`~django_limpyd.sharding.scatter`:
  the same pipelines, merged by the same code), sent on the async transport.
* Not available yet: ``intersect()``, ``sort(by_score=)``, ``store()`` (keys of one
  slot).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from django.db.models import Q

from django_limpyd.aio.queryset import AsyncQuerySetMethods
from django_limpyd.collection.manager import CollectionManager
from django_limpyd.collection.plan import collection_error, dumps
from django_limpyd.collection.queryset import QuerySetMethods
from django_limpyd.collection.results import CollectionResults, results_repr
from django_limpyd.exceptions import ImplementationError
from django_limpyd.sharding import scatter
from django_limpyd.sharding.scatter import Call, Steps

__all__ = ["ShardedCollection"]

#: methods that cannot run over shards (yet): they read or write keys of one slot
_UNSHARDED = frozenset({"intersect", "store", "stored", "from_stored"})


def _replay(collection: Any, calls: tuple[tuple[str, tuple, dict], ...]) -> Any:
    for name, args, kwargs in calls:
        collection = getattr(collection, name)(*args, **kwargs)
    return collection


class ShardedCollection:
    """A lazy collection of a sharded model (see the module's docstring): the same
    methods as the model's collection manager class."""

    def __init__(
        self,
        model: type,
        manager_class: type,
        calls: tuple[tuple[str, tuple, dict], ...] = (),
        front: Any = None,
    ) -> None:
        self.model = model
        self._manager_class = manager_class
        self._calls = calls
        #: the same calls on the sharded model's own collection: checks, query, results
        self._front = front if front is not None else manager_class(model)
        self._cache: list[Any] | None = None
        #: while the model is resharded: pk -> the shard model each result was read from
        self._owners: dict[Any, type] = {}

    # -- building -------------------------------------------------------------------

    def _chained(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        if name in _UNSHARDED:
            raise ImplementationError(
                f"{name}() is not available on a collection of {self.model.__name__}, "
                "which has shards: it reads keys of one slot."
            )
        result = getattr(self._front, name)(*args, **kwargs)
        if not isinstance(result, CollectionManager):
            raise ImplementationError(  # pragma: no cover - every chained method is listed
                f"{name}() is not available on a collection of {self.model.__name__}, "
                "which has shards."
            )
        return ShardedCollection(
            self.model, self._manager_class, (*self._calls, (name, args, kwargs)), result
        )

    def __call__(self, **filters: Any) -> ShardedCollection:
        """A new collection with these filters added (and-ed)."""
        if not filters:
            return self
        return self._chained("__call__", **filters)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self._front, name)
        if not callable(attribute):
            return attribute  # ``ordered``, ``model``...
        if hasattr(AsyncQuerySetMethods, name):  # pragma: no cover - each one is below
            raise ImplementationError(
                f"{name}() is not available on a collection of {self.model.__name__}, "
                "which has shards."
            )

        def chained(*args: Any, **kwargs: Any) -> Any:
            return self._chained(name, *args, **kwargs)

        return chained

    @property
    def _query(self) -> Any:
        return self._front._query

    def _filter(self, filters: dict[str, Any], conditions: tuple[Any, ...] = ()) -> Any:
        return self._chained("_filter", filters, conditions)

    # the QuerySet methods that read results: they run through this class's own
    first = QuerySetMethods.first
    last = QuerySetMethods.last
    in_bulk = QuerySetMethods.in_bulk
    iterator = QuerySetMethods.iterator

    # their async twins (``aget`` below): the same steps, sent on the async transport
    __aiter__ = AsyncQuerySetMethods.__aiter__
    _aiterate = AsyncQuerySetMethods._aiterate
    alist = AsyncQuerySetMethods.alist
    aexists = AsyncQuerySetMethods.aexists
    afirst = AsyncQuerySetMethods.afirst
    alast = AsyncQuerySetMethods.alast

    async def _afetch(self) -> list[Any]:
        return await self._arun(self._fetch_steps())

    async def _aslice(self, start: int, stop: int) -> list[Any]:
        if self._cache is not None:
            return self._cache[start:stop]
        return await self[start:stop]._afetch()

    async def acount(self) -> int:
        """:meth:`count` from async code (the same round trips)."""
        return await self._arun(self._count_steps())

    def shard_collections(self) -> list[Any]:
        """This collection's calls played on the collection of each shard model."""
        meta = self.model._meta
        return [
            _replay(self._manager_class(shard), self._calls)
            for shard in [*meta.previous_shard_models, *meta.shard_models]
        ]

    # -- running --------------------------------------------------------------------

    def _scatter_steps(self, plans: list[tuple[type, dict[str, Any]]]) -> Steps:
        """Run each ``(shard model, plan)`` in one pipeline; the replies, in order
        (steps, sent by ``_run`` or ``_arun``: see :mod:`~django_limpyd.sharding.scatter`)."""
        if not plans:
            return []
        # while the model is resharded, the old layout is read first, then the new one:
        # an instance moved in between is found in one or both, never in none
        old = [plan for plan in plans if plan[0]._meta.layout == "old"]
        replies: list[Any] = []
        for group in (old, plans[len(old) :]) if old else (plans,):
            if not group:
                continue
            batch = [
                Call(shard._meta.library, "collection", [shard._meta.keys.pks], [dumps(plan)])
                for shard, plan in group
            ]
            replies += yield batch, False, False
        for (shard, _plan), reply in zip(plans, replies, strict=True):
            if isinstance(reply, Exception):
                raise collection_error(shard, reply) from None
        return replies

    def _run(self, steps: Steps) -> Any:
        """What ``steps`` return, their pipelines sent on the sync client."""
        return scatter.run(steps, self.model._meta.database.connection)

    async def _arun(self, steps: Steps) -> Any:
        """What ``steps`` return, their pipelines sent on the async client."""
        from django_limpyd.aio.connections import get_client

        return await scatter.arun(steps, get_client(self.model._meta.database))

    def _sort_specs(self, shard: type) -> tuple[list[dict[str, Any]], list[Any]]:
        """What each shard returns before a result to merge by (the sort values, then
        the pk), and how each compares (``(desc, key function)``)."""
        from django_limpyd.contrib.collection import _value_spec

        meta = self.model._meta
        query = self._front._query
        specs, orders = [], []
        for sort in query.sort.keys if query.sort is not None else ():
            by = sort.by
            if by is None or by == "pk" or meta.get_field(by) is meta.pk_field:
                specs.append({"kind": "pk"})
                orders.append((sort.desc, self._pk_order))
            else:
                specs.append(_value_spec(shard, by))
                orders.append((sort.desc, _text if sort.alpha else _number))
        # the last order, between equal values: the pk's as text, in the first sort's
        # direction (as Redis's SORT, and an index walk, give ties); unsorted, the pk's
        specs.append({"kind": "pk"})
        if orders:
            orders.append((orders[0][0], _text))
        else:
            orders.append((False, self._pk_order))
        return specs, orders

    def _pk_order(self, pk: Any) -> Any:
        if self.model._meta.pk_field.auto:
            return int(pk)
        return pk

    def _gather(self, query: Any, total: bool = False) -> tuple[int, list[Any]]:
        """(the count when ``total``, the flat replies of the page of ``query``)."""
        return self._run(self._gather_steps(query, total))

    def _gather_steps(self, query: Any, total: bool = False) -> Steps:
        """:meth:`_gather`'s steps."""
        stop = None if query.limit is None else query.offset + query.limit
        plans, widths, orders = [], [], []
        for shard_collection in self.shard_collections():
            shard_query = replace(shard_collection._query, offset=0, limit=stop)
            if stop == 0:
                shard_query = replace(shard_query, limit=0)
            plan = shard_collection._clone(_query=shard_query)._plan(count=False)
            if plan is None:
                continue
            payload = plan.get("values") or [{"kind": "pk"}]
            specs, orders = self._sort_specs(shard_collection.model)
            plan["values"] = specs + payload
            if total:
                plan["total"] = True
            plans.append((shard_collection.model, plan))
            widths.append((len(specs), len(payload)))
        count, rows = 0, []
        replies = yield from self._scatter_steps(plans)
        for (shard, _plan), (keys, width), reply in zip(plans, widths, replies, strict=True):
            if total:
                shard_count, reply = reply
                count += int(shard_count)
            step = keys + width
            rows += [[*reply[i : i + step], shard] for i in range(0, len(reply), step)]
        for position in reversed(range(len(orders))):
            desc, order = orders[position]
            rows.sort(key=lambda row, p=position, o=order: o(row[p]), reverse=desc)
        keys = len(orders)
        if self.model._meta.previous_shard_models:  # an instance being moved: once
            seen: set[Any] = set()
            rows = [row for row in rows if not (row[keys - 1] in seen or seen.add(row[keys - 1]))]
        page = rows[query.offset : stop]
        self._owners = {row[keys - 1]: row[-1] for row in page}
        flat = [item for row in page for item in row[keys:-1]]
        return count, flat

    def _fetch(self) -> list[Any]:
        return self._run(self._fetch_steps())

    def _fetch_steps(self) -> Steps:
        if self._cache is None:
            _count, flat = yield from self._gather_steps(self._front._query)
            self._cache = self._converted(flat)
        return self._cache

    def _converted(self, flat: list[Any]) -> list[Any]:
        """The results of ``flat`` replies; while the model is resharded, each instance of
        the shard model (old or new layout) it was read from."""
        results = self._front._result.convert(flat)
        if self.model._meta.previous_shard_models:
            from django_limpyd.sharding.reshard import rehome

            lazy = getattr(self._front._result, "lazy", False)
            for result in results:
                owner = self._owners.get(getattr(result, "_pk", None))
                if owner is not None:
                    rehome(result, owner)
                    result._exists_checked = not lazy
        return results

    def __iter__(self) -> Iterator[Any]:
        return CollectionResults(self._fetch())

    def __len__(self) -> int:
        return self.count()

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def count(self) -> int:
        """How many results: the counts of the shards added (one pipeline)."""
        return self._run(self._count_steps())

    def _count_steps(self) -> Steps:
        if self._cache is not None:
            return len(self._cache)
        front = self._front
        if front._query.sliced or front._result.check_existence:
            return len((yield from self._fetch_steps()))
        if self.model._meta.previous_shard_models:
            from django_limpyd.sharding.moves import resharding_count_steps

            return (yield from resharding_count_steps(self))
        plans = []
        for shard_collection in self.shard_collections():
            counter = shard_collection._clone(_query=shard_collection._query.unordered())
            plan = counter._plan(count=True)
            if plan is not None:
                plans.append((shard_collection.model, plan))
        return sum(int(reply) for reply in (yield from self._scatter_steps(plans)))

    def count_and_slice(self, start: int = 0, stop: int | None = None) -> tuple[int, list[Any]]:
        """``(len(self), list(self[start:stop]))`` in one pipeline."""
        query = self._front._query
        page_query = query.sliced_by(slice(start, stop))
        if self._cache is not None:
            return len(self._cache), self._cache[start:stop]
        if self.model._meta.previous_shard_models:  # counts read on their own
            results = self._converted(self._gather(page_query)[1])
            return query.clip(self.count()), results
        count, flat = self._gather(page_query, total=True)
        return query.clip(count), self._front._result.convert(flat)

    def exists(self) -> bool:
        """True if at least one result."""
        return bool(list(self[:1]))

    def get(self, *args: Any, **filters: Any) -> Any:
        """The one instance matching (see ``CollectionManager.get``)."""
        narrowed, conditions, filters = self._narrowed(args, filters)
        return self._got(list(narrowed.primary_keys()[:2]), conditions, filters)

    async def aget(self, *args: Any, **filters: Any) -> Any:
        """:meth:`get` from async code (the same round trips)."""
        narrowed, conditions, filters = self._narrowed(args, filters)
        return self._got(await narrowed.primary_keys()[:2]._afetch(), conditions, filters)

    def _narrowed(self, args: tuple, filters: dict[str, Any]) -> tuple[Any, tuple, dict]:
        """The collection ``get(*args, **filters)`` reads, its conditions and filters."""
        conditions = tuple(arg for arg in args if isinstance(arg, Q))
        others = tuple(arg for arg in args if not isinstance(arg, Q))
        if others:
            if len(others) > 1:
                raise TypeError("get() takes at most one pk")
            filters = {"pk": others[0], **filters}
        narrowed = self._filter(filters, conditions) if (conditions or filters) else self
        return narrowed, conditions, filters

    def _got(self, pks: list[Any], conditions: tuple, filters: dict[str, Any]) -> Any:
        """The instance of the one pk of ``pks`` (two at most), or the error of ``get()``."""
        if len(pks) == 1:
            return self.model._connected(pks[0], checked=True)
        asked = " and ".join([*(str(c) for c in conditions if c), repr(filters)])
        if not pks:
            raise self.model.DoesNotExist(f"No {self.model.__name__} matches {asked}.")
        raise self.model.MultipleObjectsReturned(
            f"More than one {self.model.__name__} matches {asked}."
        )

    def explain(self) -> dict[str, Any]:
        """How each shard runs this collection: ``{"strategy": "scatter", "shards":
        [explain() of each shard]}``."""
        return {
            "strategy": f"scatter to {len(self.model._meta.shard_models)} shards, merge",
            "shards": [collection.explain() for collection in self.shard_collections()],
        }

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if self._cache is not None:
                return self._cache[item]
            return self._chained("__getitem__", item)
        if not isinstance(item, int) or isinstance(item, bool):
            raise TypeError(f"Collection indices must be ints or slices, not {type(item).__name__}")
        if item < 0 or self._cache is not None:
            return self._fetch()[item]
        results = list(self[item : item + 1])
        if not results:
            raise IndexError("collection index out of range")
        return results[0]

    def __repr__(self) -> str:
        most = CollectionResults.MAX_REPR_ITEMS
        return f"<{self._manager_class.__name__} {results_repr(self._fetch(), most)}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, set)):
            return CollectionResults(self._fetch()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
