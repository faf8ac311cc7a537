"""Range indexes: one sorted set per field, by text or by number."""

import re
from typing import Any

from django_limpyd.exceptions import InvalidValue
from django_limpyd.indexes.base import BaseIndex
from django_limpyd.indexes.lookups import (
    EqualLookup,
    GreaterThan,
    GreaterThanOrEqual,
    InLookup,
    LessThan,
    LessThanOrEqual,
    StartsWith,
    number,
)

__all__ = ["NumberRangeIndex", "TextRangeIndex", "index_number"]

_DECIMAL = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*", re.ASCII)


def index_number(value: str) -> float:
    """The score of ``value`` in a NumberRangeIndex: a plain decimal number, else 0.

    The Lua functions apply the same rule (``number_of`` in ``lua/core.lua``).
    """
    match = _DECIMAL.fullmatch(value)
    return float(match.group(1)) if match else 0.0


_COMPARISONS = {
    "eq": EqualLookup,
    "in": InLookup,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


class TextRangeIndex(BaseIndex):
    """Byte-wise ordered values.

    Filters: ``eq``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``, ``startswith``.
    """

    kind = "text"
    lookups = {**_COMPARISONS, "startswith": StartsWith}

    def _operation(self, comparison: str, value: str) -> dict[str, Any]:
        if "\0" in value:
            raise InvalidValue(
                f"{self.field.describe()}: a text range filter value cannot contain NUL."
            )
        return {
            "op": "text",
            "key": self.storage_base,
            "cmp": comparison,
            "value": value,
            "multi": self.field.multi,
        }

    def entry(self, pk: str, value: str) -> tuple[str, str, float]:
        """``value\\0pk`` at score 0 (ordered by bytes)."""
        return self.storage_base, f"{value}\0{pk}", 0.0

    def equal_operation(self, value: str) -> dict[str, Any]:
        """Members whose value is exactly ``value``."""
        return self._operation("eq", value)

    def range_operation(self, comparison: str, value: str) -> dict[str, Any]:
        """Members compared byte-wise with ``value``."""
        return self._operation(comparison, value)


class NumberRangeIndex(BaseIndex):
    """Numeric values (non-numbers index as 0): ``eq``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``."""

    kind = "num"
    lookups = dict(_COMPARISONS)

    def _operation(self, low: str, high: str) -> dict[str, Any]:
        return {
            "op": "num",
            "key": self.storage_base,
            "min": low,
            "max": high,
            "multi": self.field.multi,
        }

    def entry(self, pk: str, value: str) -> tuple[str, str, float]:
        """The pk (``value\\0pk`` for multi-value fields) scored by the number."""
        member = f"{value}\0{pk}" if self.field.multi else pk
        return self.storage_base, member, index_number(value)

    def equal_operation(self, value: str) -> dict[str, Any]:
        """Members whose number equals ``value``."""
        bound = repr(number(self.lookup("eq", value), value))
        return self._operation(bound, bound)

    def range_operation(self, comparison: str, value: str) -> dict[str, Any]:
        """Members whose number compares with ``value``."""
        bound = repr(number(self.lookup(comparison, value), value))
        return {
            "gt": lambda: self._operation("(" + bound, "+inf"),
            "gte": lambda: self._operation(bound, "+inf"),
            "lt": lambda: self._operation("-inf", "(" + bound),
            "lte": lambda: self._operation("-inf", bound),
        }[comparison]()
