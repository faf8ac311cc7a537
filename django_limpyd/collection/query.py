"""``Query``: what a collection asks for (filters, sort, slice), kept apart from how
it runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django_limpyd.exceptions import ImplementationError

__all__ = ["Query", "Sort"]


@dataclass(frozen=True)
class Sort:
    """A ``sort()`` request: ``by`` a field name (``None``: the pk), without the ``-``
    of ``by='-field'`` (which sets ``desc``); ``then``: the next sorts, for equal
    values (``order_by('-year', 'title')``)."""

    by: str | None = None
    alpha: bool = False
    desc: bool = False
    then: tuple[Sort, ...] = ()

    @property
    def keys(self) -> tuple[Sort, ...]:
        """Every sort, this one first."""
        return (replace(self, then=()), *self.then)

    def reversed(self) -> Sort:
        """This sort in the reverse order (each of its keys)."""
        return replace(self, desc=not self.desc, then=tuple(sort.reversed() for sort in self.then))


@dataclass(frozen=True)
class Query:
    """Filters (and-ed lookups), sort, and slice of a collection."""

    lookups: tuple[Any, ...] = ()
    sort: Sort | None = None
    offset: int = 0
    limit: int | None = None

    @property
    def sliced(self) -> bool:
        """True once a slice was taken."""
        return self.offset > 0 or self.limit is not None

    def filtered(self, lookups: list[Any]) -> Query:
        """This query with more lookups (and-ed)."""
        return replace(self, lookups=self.lookups + tuple(lookups))

    def sorted(self, sort: Sort) -> Query:
        """This query sorted by ``sort``."""
        return replace(self, sort=sort)

    def unordered(self) -> Query:
        """This query without its sort and slice (what counting needs)."""
        return replace(self, sort=None, offset=0, limit=None)

    def clip(self, total: int) -> int:
        """How many of ``total`` results (of the unsliced query) its slice keeps."""
        total = max(total - self.offset, 0)
        return total if self.limit is None else min(total, self.limit)

    def sliced_by(self, item: slice) -> Query:
        """This query restricted to ``item`` (relative to its current slice)."""
        if item.step not in (None, 1):
            raise ImplementationError("Collections cannot be sliced with a step.")
        start, stop = item.start or 0, item.stop
        for bound in (start, stop):
            if bound is not None and (not isinstance(bound, int) or bound < 0):
                raise ImplementationError(
                    f"Collections take slices of non-negative ints, got {item!r}."
                )
        offset = self.offset + start
        limit = None if stop is None else max(stop - start, 0)
        if self.limit is not None:
            remaining = max(self.limit - start, 0)
            limit = remaining if limit is None else min(limit, remaining)
        return replace(self, offset=offset, limit=limit)
