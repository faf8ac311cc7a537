"""``EqualIndex``: one set of pks per indexed value (filters ``eq``, ``in``)."""

from typing import Any

from django_limpyd.indexes.base import BaseIndex
from django_limpyd.indexes.lookups import EqualLookup, InLookup

__all__ = ["EqualIndex"]


class EqualIndex(BaseIndex):
    """Index for exact matches: ``field=value``, ``field__eq=``, ``field__in=[...]``."""

    kind = "eq"
    lookups = {"eq": EqualLookup, "in": InLookup}

    def equal_operation(self, value: str) -> dict[str, Any]:
        """The set of pks holding ``value``."""
        return {"op": "set", "key": self.storage_base + value}

    def entry(self, pk: str, value: str) -> tuple[str, str, None]:
        """The pk in the set of ``value``."""
        return self.storage_base + value, pk, None
