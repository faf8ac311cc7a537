"""Range indexes: one sorted set per field, by text or by number."""

from django_limpyd.indexes.base import BaseIndex

__all__ = ["NumberRangeIndex", "TextRangeIndex"]


class TextRangeIndex(BaseIndex):
    """Byte-wise ordered values.

    Filters: ``eq``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``, ``startswith``.
    """

    kind = "text"


class NumberRangeIndex(BaseIndex):
    """Numeric values (non-numbers index as 0): ``eq``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``."""

    kind = "num"
