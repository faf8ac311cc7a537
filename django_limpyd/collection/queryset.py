"""``QuerySetMethods``: Django's everyday ``QuerySet`` API on collections.

``Model.objects`` is a collection of instances; these methods are what a Django
developer reaches for first (``filter``, ``exclude``, ``order_by``, ``first``,
``last``, ``none``, ``in_bulk``...), each mapped onto the limpyd collection API
(see :doc:`/orm/objects`). Every method returns a new collection (or runs one, in one
round trip).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db.models import Q

from django_limpyd.collection.conditions import Condition, Negated, conditions_for
from django_limpyd.collection.filters import NoMatch
from django_limpyd.collection.plan import sort_pattern
from django_limpyd.collection.query import Sort
from django_limpyd.exceptions import ImplementationError

__all__ = ["QuerySetMethods", "sort_is_alpha"]


def sort_is_alpha(model: type, name: str | None) -> bool:
    """Whether ``order_by(name)`` sorts as text: a field with a ``NumberRangeIndex``
    (without transform: a transformed one indexes something made from the value)
    sorts as numbers, every other field as text (a ``TextRangeIndex`` or none); the
    pk as numbers in an ``AutoPKField`` model, else as text."""
    meta = model._meta
    if name is None or name == "pk" or name == meta.pk_field.name:
        return not meta.pk_field.auto
    if not meta.has_field(name):
        return True  # sort() names the unknown field
    indexes = meta.get_field(name).indexes
    return not any(index.kind == "num" and not index.has_transform for index in indexes)


class QuerySetMethods:
    """Django ``QuerySet`` methods of :class:`CollectionManager` (mixed in)."""

    def filter(self, *conditions: Any, **filters: Any) -> Any:
        """A new collection with these filters added (and-ed), as ``collection(**filters)``;
        ``conditions`` are Django ``Q`` objects (``Q(a=1) | Q(b=2)``, ``~Q(a=1)``)."""
        return self._filter(filters, conditions)

    def exclude(self, *conditions: Any, **filters: Any) -> Any:
        """A new collection without the instances matching ``filters`` and ``conditions``
        together, as Django's: ``exclude(a=1, b=2)`` is NOT (a=1 AND b=2), chained
        excludes are and-ed (``exclude(a=1).exclude(b=2)``: neither), ``conditions`` are
        ``Q`` objects. Computed by the collection function in the same call."""
        lookups = conditions_for(self.model, conditions, filters)
        if not lookups:  # exclude(), exclude(Q()): nothing excluded
            return self._clone()
        for lookup in lookups:
            if not getattr(lookup, "deferred", False):
                lookup.planned()  # a bad filter value fails here, not at evaluation
        [lookup] = lookups if len(lookups) == 1 else [Condition(Q.AND, lookups)]
        return self._clone(_query=self._query.filtered([Negated(lookup)]))

    def none(self) -> Any:
        """A new collection matching nothing (evaluated without a round trip)."""
        return self._clone(_query=self._query.filtered([NoMatch()]))

    def order_by(self, *names: str) -> Any:
        """A new collection sorted by these fields (``'-year'``: descending; no name:
        not sorted), each as text or as numbers as :func:`sort_is_alpha` says. One field
        is ``sort(by=name, alpha=...)``; several (``order_by('-year', 'title')``) are
        sorted by the collection function, among the filtered pks (strategy
        ``candidates``: Redis ``SORT`` takes one ``BY``). An unknown or multi-value
        field raises ``ImplementationError`` naming it."""
        if not names:
            return self._clone(_query=self._query.sorted(None))
        sorts = []
        for name in names:
            if not isinstance(name, str) or name in ("", "-"):
                raise ImplementationError(
                    f"{self.model._meta.name}.order_by() takes field names, got {name!r}."
                )
            bare, desc = (name[1:], True) if name.startswith("-") else (name, False)
            if bare == "?":
                raise ImplementationError(
                    f"{self.model._meta.name}.order_by('?'): collections have no random order."
                )
            by = None if bare == "pk" else bare
            sort_pattern(self.model, by)  # unknown or multi-value field: fail now
            sorts.append(Sort(by, sort_is_alpha(self.model, by), desc))
        for position, sort in enumerate(sorts):
            if sort_pattern(self.model, sort.by) is None:  # the pk: no two are equal
                sorts = sorts[: position + 1]
                break
        if len(sorts) == 1:
            [sort] = sorts
            return self.sort(by=("-" if sort.desc else "") + (sort.by or "pk"), alpha=sort.alpha)
        first, *then = sorts
        return self.sort(by=first.by)._clone(
            _query=self._query.sorted(replace(first, then=tuple(then)))
        )

    def reverse(self) -> Any:
        """A new collection in the reverse order (unsorted: by descending pk)."""
        if self._query.sliced:
            raise ImplementationError("Cannot reverse a collection once a slice is taken.")
        sort = self._query.sort or Sort(None, sort_is_alpha(self.model, None), False)
        return self._clone(_query=self._query.sorted(sort.reversed()))

    def first(self) -> Any:
        """The first result (in pk order if not sorted), or ``None``: one round trip."""
        results = list(self[:1])
        return results[0] if results else None

    def last(self) -> Any:
        """The last result (in pk order if not sorted), or ``None``: one round trip."""
        if self._query.sliced:
            results = list(self)
            return results[-1] if results else None
        return self.reverse().first()

    def in_bulk(self, id_list: Any = None) -> dict[str, Any]:
        """``{pk: instance}`` of this collection (restricted to the pks of ``id_list``),
        in one round trip."""
        collection = self if id_list is None else self._filter({"pk__in": list(id_list)})
        pks = list(collection.primary_keys())
        return {pk: self.model._connected(pk, checked=True) for pk in pks}

    def iterator(self, chunk_size: int | None = None) -> Any:
        """The results, read ``chunk_size`` at a time (one round trip each; ``None``:
        all at once)."""
        if chunk_size is None:
            yield from self
            return
        if chunk_size < 1:
            raise ImplementationError("iterator(chunk_size=) takes a positive int.")
        start = 0
        while True:
            chunk = list(self[start : start + chunk_size])
            yield from chunk
            if len(chunk) < chunk_size:
                return
            start += chunk_size
