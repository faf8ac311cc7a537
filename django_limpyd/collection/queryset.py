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

from django_limpyd.collection.filters import Negated, NoMatch, lookups_for
from django_limpyd.collection.query import Sort
from django_limpyd.exceptions import ImplementationError

__all__ = ["QuerySetMethods", "sort_is_alpha"]


def sort_is_alpha(model: type, name: str | None) -> bool:
    """Whether ``order_by(name)`` sorts as text: a field with a ``NumberRangeIndex``
    sorts as numbers, every other field as text (a ``TextRangeIndex`` or none); the
    pk as numbers in an ``AutoPKField`` model, else as text."""
    meta = model._meta
    if name is None or name == "pk" or name == meta.pk_field.name:
        return not meta.pk_field.auto
    if not meta.has_field(name):
        return True  # sort() names the unknown field
    kinds = {index.kind for index in meta.get_field(name).indexes}
    return "num" not in kinds


class QuerySetMethods:
    """Django ``QuerySet`` methods of :class:`CollectionManager` (mixed in)."""

    def filter(self, **filters: Any) -> Any:
        """A new collection with these filters added (and-ed), as ``collection(**filters)``."""
        return self._filter(filters)

    def exclude(self, **filters: Any) -> Any:
        """A new collection without the instances matching ``filters``.

        Chained excludes are and-ed negations (``exclude(a=1).exclude(b=2)``: neither
        ``a=1`` nor ``b=2``). One call takes one filter (or filters an index takes
        together, such as an ``EqualIndexWith``'s): ``exclude(a=1, b=2)``, NOT(a AND b),
        is refused for now.
        """
        lookups = lookups_for(self.model, filters)
        if len(lookups) != 1:
            raise ImplementationError(
                f"{self.model._meta.name}.exclude() takes one filter per call, got "
                f"{sorted(filters)!r}: exclude(a=1, b=2) would be NOT(a AND b), which "
                "collections cannot run yet; exclude(a=1).exclude(b=2) excludes both."
            )
        [lookup] = lookups
        if not getattr(lookup, "deferred", False):
            lookup.planned()  # a bad filter value fails here, not at evaluation
        return self._clone(_query=self._query.filtered([Negated(lookup)]))

    def none(self) -> Any:
        """A new collection matching nothing (evaluated without a round trip)."""
        return self._clone(_query=self._query.filtered([NoMatch()]))

    def order_by(self, *names: str) -> Any:
        """A new collection sorted by one field (``'-year'``: descending; no name: not
        sorted). The sort is ``sort(by=name, alpha=...)``, ``alpha`` chosen by
        :func:`sort_is_alpha`; several fields raise ``ImplementationError``."""
        if not names:
            return self._clone(_query=self._query.sorted(None))
        if len(names) > 1:
            raise ImplementationError(
                f"{self.model._meta.name}.order_by{names!r}: collections sort by one "
                "field (Redis SORT takes one BY pattern)."
            )
        [name] = names
        bare = name[1:] if name.startswith("-") else name
        return self.sort(by=name, alpha=sort_is_alpha(self.model, bare))

    def reverse(self) -> Any:
        """A new collection in the reverse order (unsorted: by descending pk)."""
        if self._query.sliced:
            raise ImplementationError("Cannot reverse a collection once a slice is taken.")
        sort = self._query.sort or Sort(None, sort_is_alpha(self.model, None), False)
        return self._clone(_query=self._query.sorted(replace(sort, desc=not sort.desc)))

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
