"""``CollectionManager``: lazy, immutable, chainable collections of a model.

Every method returns a new collection; nothing is sent to Redis until results
are needed (iteration, ``len()``, indexing, ``repr()``). A filtered, sorted and
sliced page is one round trip; ``len()`` of an unsliced collection is counted
by Redis without sorting (nor fetching pks, unless results skip some);
``count_and_slice()`` gets a count and a page in one round trip. Like a Django
``QuerySet``, a collection object keeps its results once evaluated; a new
collection asks Redis again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Q

from django_limpyd.aio.queryset import AsyncQuerySetMethods
from django_limpyd.collection.conditions import conditions_for
from django_limpyd.collection.plan import build_plan, explain_plan, run_plan
from django_limpyd.collection.query import Query, Sort
from django_limpyd.collection.queryset import QuerySetMethods
from django_limpyd.collection.results import (
    CollectionResults,
    InstancesResult,
    PksResult,
    results_repr,
)

__all__ = ["CollectionManager"]


class CollectionManager(QuerySetMethods, AsyncQuerySetMethods):
    """A lazy collection of a model's instances matching filters (with Django's
    ``QuerySet`` methods, see :class:`QuerySetMethods`, and their async twins, see
    :class:`~django_limpyd.aio.queryset.AsyncQuerySetMethods`)."""

    def __init__(self, model: type) -> None:
        self.model = model
        self._query = Query()
        self._result = PksResult(model)
        self._cache: list[Any] | None = None

    # -- building -------------------------------------------------------------------

    def _clone(self, **changes: Any) -> CollectionManager:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._cache = None
        clone.__dict__.update(changes)
        return clone

    def clone(self) -> CollectionManager:
        """A copy of this collection, not evaluated (as limpyd's ``clone()``)."""
        return self._clone()

    def __call__(self, **filters: Any) -> CollectionManager:
        """A new collection with these filters added (and-ed)."""
        return self._filter(filters)

    def _filter(
        self, filters: dict[str, Any], conditions: tuple[Any, ...] = ()
    ) -> CollectionManager:
        lookups = conditions_for(self.model, conditions, filters)
        for lookup in lookups:
            if not getattr(lookup, "deferred", False):
                lookup.planned()  # a bad filter value fails here, not at evaluation
        return self._clone(_query=self._query.filtered(lookups))

    def sort(
        self, by: str | None = None, alpha: bool = False, desc: bool = False
    ) -> CollectionManager:
        """A new collection sorted by field ``by`` (``None`` or ``'pk'``: by pk).

        ``by='-field'`` (or ``'-pk'``) sorts in descending order, as in limpyd and
        Django: the ``-`` means descending whatever ``desc`` says.
        """
        from django_limpyd.collection.plan import sort_pattern

        if isinstance(by, str) and by.startswith("-"):
            by, desc = by[1:], True
        sort_pattern(self.model, by)  # unknown or multi-value field: fail now
        return self._clone(_query=self._query.sorted(Sort(by, alpha, desc)))

    def instances(
        self, lazy: bool = False, skip_exist_test: bool | None = None
    ) -> CollectionManager:
        """A new collection returning instances (vanished pks skipped unless ``lazy``)."""
        if skip_exist_test is not None:
            lazy = skip_exist_test
        return self._clone(_result=InstancesResult(self.model, lazy=lazy))

    def primary_keys(self) -> CollectionManager:
        """A new collection returning pks (the default)."""
        return self._clone(_result=PksResult(self.model))

    def all(self) -> CollectionManager:
        """A copy of this collection (for Django helpers expecting a QuerySet)."""
        return self._clone()

    def get(self, *args: Any, **filters: Any) -> Any:
        """The one instance of this collection matching ``filters`` (or this pk; ``Q``
        objects as in ``filter()``).

        ``Model.DoesNotExist`` if none, ``Model.MultipleObjectsReturned`` (also a
        ``ValueError``) if several match.
        """
        conditions = tuple(arg for arg in args if isinstance(arg, Q))
        args = tuple(arg for arg in args if not isinstance(arg, Q))
        if args:
            if len(args) > 1:
                raise TypeError("get() takes at most one pk")
            filters = {"pk": args[0], **filters}
        pks = list(self._filter(filters, conditions).primary_keys()[:2])
        if len(pks) == 1:
            return self.model._connected(pks[0], checked=True)
        # what was asked: the Q objects (not the empty ones), then the filters (``{}``:
        # every instance)
        parts = [str(condition) for condition in conditions if condition]
        asked = " and ".join([*parts, repr(filters)] if filters or not parts else parts)
        if not pks:
            raise self.model.DoesNotExist(f"No {self.model.__name__} matches {asked}.")
        raise self.model.MultipleObjectsReturned(
            f"More than one {self.model.__name__} matches {asked}."
        )

    @property
    def ordered(self) -> bool:
        """True if sorted (Django's Paginator asks)."""
        return self._query.sort is not None

    # -- running --------------------------------------------------------------------

    def _plan(self, count: bool) -> dict[str, Any] | None:
        """The collection script's plan (``None``: nothing can match); subclasses add
        to it."""
        check = self._result.check_existence and not count
        plan = build_plan(self.model, self._query, count=count, check=check)
        if plan is not None and not count:
            values = self._result.plan_values()
            if values is not None:
                plan["values"] = values
        return plan

    def _fetch(self) -> list[Any]:
        if self._cache is None:
            plan = self._plan(count=False)
            replies = [] if plan is None else run_plan(self.model, plan)
            self._cache = self._result.convert(replies)
        return self._cache

    def __iter__(self) -> Iterator[Any]:
        return CollectionResults(self._fetch())

    def __len__(self) -> int:
        return self.count()

    def count(self) -> int:
        """How many results: counted by Redis without sorting (a sort that would fail,
        a text sort without ``alpha=True``, does not make ``len()`` fail).

        A sliced collection (a page) is evaluated instead, and keeps its results:
        counting a page and then reading it is one round trip, as Django's
        ``Page`` does it.
        """
        if self._cache is not None:
            return len(self._cache)
        if self._query.sliced:
            return len(self._fetch())
        counter = self._clone(_query=self._query.unordered())
        if counter._counted_by_fetching():
            plan = counter._plan(count=False)
            if plan is not None:
                plan.pop("values", None)
            total = 0 if plan is None else len(run_plan(self.model, plan))
        else:
            plan = counter._plan(count=True)
            total = 0 if plan is None else run_plan(self.model, plan)
        return total

    def _counted_by_fetching(self) -> bool:
        """True when counting needs the (unsorted) pks, not just their number: when
        the results skip some (vanished instances with ``instances()``)."""
        return self._result.check_existence

    def count_and_slice(self, start: int = 0, stop: int | None = None) -> tuple[int, list[Any]]:
        """``(len(self), list(self[start:stop]))`` in **one** round trip: how many
        results this collection has, and the results of a slice of it (what a
        paginator needs: the count and a page).

        Redis counts the filtered set (``SCARD``, no sort) in the call that sorts
        and slices it. Results come in the collection's shape (pks, instances,
        ``values()``...). The collection is not changed (nor its results kept);
        one already evaluated answers from its results, without a round trip.
        """
        query = self._query.sliced_by(slice(start, stop))  # bad bounds fail here
        if self._cache is not None:
            return len(self._cache), self._cache[start:stop]
        plan = self._clone(_query=query)._plan(count=False)
        if plan is None:
            return 0, []
        plan["total"] = True  # the script returns [count without the limit, results]
        total, replies = run_plan(self.model, plan)
        total = self._query.clip(total)  # this collection's own slice, if any
        return total, self._result.convert(replies)

    def explain(self) -> dict[str, Any]:
        """How this collection runs, without running it: ``{"strategy": ..., "commands":
        [...], "cost": n}``, the Redis commands (or steps of the collection function)
        and the estimated number of members Redis reads or tests (see
        :doc:`/orm/collections`). Asks Redis (one round trip: the function chooses its
        strategy from the sizes of the indexes)."""
        plan = self._plan(count=False)
        if plan is None:
            return {"strategy": "nothing can match", "commands": [], "cost": 0}
        return explain_plan(self.model, plan)

    def exists(self) -> bool:
        """True if at least one result (asks for one pk only)."""
        return bool(list(self[:1]))

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if self._cache is not None:
                return self._cache[item]
            return self._clone(_query=self._query.sliced_by(item))
        if not isinstance(item, int) or isinstance(item, bool):
            raise TypeError(f"Collection indices must be ints or slices, not {type(item).__name__}")
        if item < 0:
            return self._fetch()[item]
        if self._cache is not None:
            return self._cache[item]
        results = list(self[item : item + 1])
        if not results:
            raise IndexError("collection index out of range")
        return results[0]

    #: how many results ``repr()`` shows
    MAX_REPR_ITEMS = CollectionResults.MAX_REPR_ITEMS

    def __repr__(self) -> str:
        """``<CollectionManager ['1', '2']>`` (the class name, then the results), as
        limpyd shows it; it runs the collection."""
        return f"<{type(self).__name__} {results_repr(self._fetch(), self.MAX_REPR_ITEMS)}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, set)):
            return CollectionResults(self._fetch()) == other  # as limpyd: a list or a set
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
