"""``EqualIndex``: one set of pks per indexed value (filters ``eq``, ``in``)."""

from django_limpyd.indexes.base import BaseIndex

__all__ = ["EqualIndex"]


class EqualIndex(BaseIndex):
    """Index for exact matches: ``field=value``, ``field__eq=``, ``field__in=[...]``."""

    kind = "eq"
