"""Filter suffixes as small named classes (``field__suffix=value``).

Each index class declares the lookups it handles in ``lookups``; a lookup turns
a filter value into an *operation* the ``collection`` function
(``storage/lua/collection.lua``) understands:

* ``{"op": "set", "key": k}``: the pks in set ``k`` (EqualIndex)
* ``{"op": "text", "key": k, "cmp": c, "value": v, "multi": m}``: a lexical
  range of a TextRangeIndex (``cmp`` in eq/gt/gte/lt/lte/startswith)
* ``{"op": "num", "key": k, "min": a, "max": b, "multi": m}``: a score range of a
  NumberRangeIndex (``a``/``b`` as ZRANGEBYSCORE takes them)
* ``{"op": "any", "ops": [...]}``: the union of several operations (``__in``)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.storage.values import to_redis_string

if TYPE_CHECKING:
    from django_limpyd.indexes.base import BaseIndex

__all__ = [
    "EqualLookup",
    "GreaterThan",
    "GreaterThanOrEqual",
    "InLookup",
    "LessThan",
    "LessThanOrEqual",
    "Lookup",
    "StartsWith",
]


class Lookup:
    """A filter suffix applied through one index."""

    suffix: ClassVar[str] = ""

    def __init__(self, index: BaseIndex, value: Any) -> None:
        self.index = index
        self.value = value

    def describe(self) -> str:
        """``Model.field__prefix__suffix``, for messages."""
        prefix = f"__{self.index.prefix}" if self.index.prefix else ""
        return f"{self.index.field.describe()}{prefix}__{self.suffix}"

    def indexed(self, value: Any) -> str | None:
        """``value`` as a filter value: a string, compared as is with what the index
        stores (as in limpyd, a filter value is *not* passed through the index's
        transform: filter on the transformed value)."""
        if type(value) is str and value.isascii():
            return value  # the common case, valid as it is
        if hasattr(value, "_meta") and hasattr(value, "pk"):  # an instance: its pk
            value = value.pk.get()
        elif hasattr(value, "current_value") and getattr(value, "instance", None) is not None:
            value = value.current_value()  # a field of an instance: its value, read now
        if value is None:
            raise InvalidValue(f"{self.describe()}: None cannot be filtered on.")
        return to_redis_string(value, self.describe())

    def operation(self) -> dict[str, Any] | None:
        """The operation for the collection script (``None``: matches nothing)."""
        raise NotImplementedError

    def planned(self) -> dict[str, Any] | None:
        """:meth:`operation`, computed once (a lookup never changes; one whose value is
        read at evaluation, ``deferred``, is computed each time)."""
        if getattr(self, "deferred", False):
            return self.operation()
        try:
            return self._planned
        except AttributeError:
            self._planned = self.operation()
            return self._planned


class EqualLookup(Lookup):
    """``field=value`` or ``field__eq=value``."""

    suffix = "eq"

    def operation(self) -> dict[str, Any] | None:
        value = self.indexed(self.value)
        return None if value is None else self.index.equal_operation(value)


class InLookup(Lookup):
    """``field__in=[...]``: any of the values."""

    suffix = "in"

    def __init__(self, index: BaseIndex, value: Any) -> None:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            super().__init__(index, value)
            raise InvalidValue(f"{self.describe()} needs a list of values, got {value!r}.")
        super().__init__(index, list(value))  # an iterator is read once, here

    def operation(self) -> dict[str, Any] | None:
        values = {self.indexed(value) for value in self.value} - {None}
        ops = [self.index.equal_operation(value) for value in sorted(values)]
        if not ops:
            return None
        # the sets of an equal index of a single-value field never share a pk
        disjoint = not self.index.field.multi and all(op["op"] == "set" for op in ops)
        return {"op": "any", "ops": ops, "disjoint": disjoint}


class _Comparison(Lookup):
    comparison: ClassVar[str] = ""

    def operation(self) -> dict[str, Any] | None:
        value = self.indexed(self.value)
        return None if value is None else self.index.range_operation(self.comparison, value)


class GreaterThan(_Comparison):
    """``field__gt=value``."""

    suffix = comparison = "gt"


class GreaterThanOrEqual(_Comparison):
    """``field__gte=value``."""

    suffix = comparison = "gte"


class LessThan(_Comparison):
    """``field__lt=value``."""

    suffix = comparison = "lt"


class LessThanOrEqual(_Comparison):
    """``field__lte=value``."""

    suffix = comparison = "lte"


class StartsWith(_Comparison):
    """``field__startswith=value`` (text range indexes)."""

    suffix = comparison = "startswith"


def number(lookup: Lookup, value: str) -> float:
    """A filter value of a number index as a float, or a clear error."""
    try:
        result = float(value)
    except ValueError:
        raise InvalidValue(f"{lookup.describe()} needs a number, got {value!r}.") from None
    if result != result:
        raise InvalidValue(f"{lookup.describe()} cannot compare with NaN.")
    return result


def unhandled(index: BaseIndex, suffix: str) -> ImplementationError:
    """The error for a suffix an index does not handle."""
    return ImplementationError(
        f"{type(index).__name__} of {index.field.describe()} cannot handle the filter suffix "
        f"{suffix!r} (it handles {', '.join(sorted(index.lookups))})."
    )
