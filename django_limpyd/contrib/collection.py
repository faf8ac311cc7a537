"""``ExtendedCollectionManager``: values, chained filters, intersections, sort by
score, stored results — limpyd's extended collection.

Everything stays one round trip per evaluation: values are read by the same
script that filters, sorts and slices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_limpyd.collection.manager import CollectionManager
from django_limpyd.collection.plan import store_plan
from django_limpyd.collection.query import Query
from django_limpyd.collection.results import PksResult
from django_limpyd.exceptions import ImplementationError, ImplementationValueError
from django_limpyd.fields.base import RedisField

__all__ = ["DEFAULT_STORE_TTL", "SORTED_SCORE", "ExtendedCollectionManager"]

#: the name to ask the score of ``sort(by_score=...)`` in ``values``/``values_list``
SORTED_SCORE = "sorted_score"

#: seconds a stored collection lives by default
DEFAULT_STORE_TTL = 60


#: multi-value fields ``values(..., multi=True)`` reads whole
MULTI_VALUE_TYPES = ("set", "list", "zset", "hash")


def _value_spec(model: type, name: str, multi: bool = False) -> dict[str, Any]:
    meta = model._meta
    if name == SORTED_SCORE:
        return {"kind": "score"}
    if not meta.has_field(name):
        raise ImplementationValueError(
            f"values() and values_list() cannot read {name!r}: {meta.name} has no field {name!r}."
        )
    field = meta.get_field(name)
    if field is meta.pk_field:
        return {"kind": "pk"}
    if field.storage_type == "string":
        return {"kind": "string", "key": meta.keys.field_prefix(field.name)}
    if field.storage_type == "hfield":
        return {"kind": "hfield", "key": meta.keys.instance_hash_prefix, "name": field.name}
    if multi and field.storage_type in MULTI_VALUE_TYPES:
        return {"kind": field.storage_type, "key": meta.keys.field_prefix(field.name)}
    raise ImplementationValueError(
        f"{field.describe()} holds several values: values() and values_list() only read "
        "PKField, StringField and InstanceHashField."
    )


class ValuesResult(PksResult):
    """Dicts of field values (``values()``)."""

    def __init__(self, model: type, names: list[str], multi: bool = False) -> None:
        super().__init__(model)
        self.names = names
        self.specs = [_value_spec(model, name, multi) for name in names]

    def plan_values(self) -> list[dict[str, Any]]:
        return self.specs

    def rows(self, replies: list[Any]) -> list[list[Any]]:
        """The flat script reply cut into one list per pk."""
        width = len(self.specs)
        rows = [replies[i : i + width] for i in range(0, len(replies), width)]
        for row in rows:
            for i, spec in enumerate(self.specs):
                kind = spec["kind"]
                if kind == "score" and row[i] is not None:
                    row[i] = str(float(row[i]))
                elif kind == "set":
                    row[i] = set(row[i])
                elif kind == "zset":  # as redis-py's zrange(withscores=True)
                    pairs = row[i]
                    row[i] = [(pairs[j], float(pairs[j + 1])) for j in range(0, len(pairs), 2)]
                elif kind == "hash":
                    pairs = row[i]
                    row[i] = {pairs[j]: pairs[j + 1] for j in range(0, len(pairs), 2)}
        return rows

    def convert(self, replies: Iterable[Any]) -> list[Any]:
        return [dict(zip(self.names, row, strict=True)) for row in self.rows(list(replies))]


class ValuesListResult(ValuesResult):
    """Tuples of field values, or single values with ``flat`` (``values_list()``)."""

    def __init__(self, model: type, names: list[str], flat: bool) -> None:
        super().__init__(model, names)
        self.flat = flat

    def convert(self, replies: Iterable[Any]) -> list[Any]:
        rows = self.rows(list(replies))
        return [row[0] for row in rows] if self.flat else [tuple(row) for row in rows]


def _other_slot(model: type, key: str) -> bool:
    """True if ``key`` is in another slot than ``model``'s keys, on a Redis Cluster."""
    from django_limpyd.client_cluster import is_cluster
    from django_limpyd.storage.compiler import key_hash_tag

    if key_hash_tag(key) == key_hash_tag(model._meta.keys.prefix):
        return False
    return is_cluster(model._meta.database.connection)


class ExtendedCollectionManager(CollectionManager):
    """A collection with ``values``, ``values_list``, ``filter``, ``intersect``,
    ``sort(by_score=)`` and ``store``."""

    def __init__(self, model: type) -> None:
        super().__init__(model)
        self._intersections: tuple[dict[str, Any], ...] = ()
        self._score: dict[str, Any] | None = None
        self._source: str | None = None

    # -- building -------------------------------------------------------------------

    def filter(self, *conditions: Any, **filters: Any) -> ExtendedCollectionManager:
        """A new collection with more filters (and-ed; ``conditions``: Django ``Q``
        objects). A filter value may be a field of an instance: its value is read when
        the collection runs."""
        return self._filter(filters, conditions)

    def intersect(self, *items: Any) -> ExtendedCollectionManager:
        """A new collection keeping only pks also in each item: a list, set or tuple of
        pks, the key of a Redis set/sorted set/list, a SetField/ListField/
        SortedSetField of an instance, or another collection."""
        operations = [self._intersection(item) for item in items]
        return self._clone(_intersections=self._intersections + tuple(operations))

    def _intersection(self, item: Any) -> dict[str, Any]:
        if isinstance(item, str):
            return {"op": "key", "key": item}
        if isinstance(item, RedisField):
            if not item.multi or item.instance is None:
                raise ImplementationValueError(
                    f"intersect() takes multi-value fields of instances, not {item!r}."
                )
            if not _other_slot(self.model, item.key):
                return {"op": "key", "key": item.key}
            # a key in another slot of a Redis Cluster: its members, read there
            kind = item.storage_type
            item = (
                item.smembers()
                if kind == "set"
                else item.zrange(0, -1)
                if kind == "zset"
                else item.lrange(0, -1)
            )
        if isinstance(item, CollectionManager):
            item = list(item.primary_keys())
        if isinstance(item, (list, set, tuple, frozenset)):
            normalize = self.model._meta.pk_field.normalize
            return {"op": "pks", "values": sorted({normalize(pk) for pk in item})}
        raise ImplementationValueError(
            f"intersect() cannot use {item!r}: it takes a key of a set, sorted set or list, a "
            "list, set or tuple of pks, a multi-value field of an instance or a collection."
        )

    def sort(
        self,
        by: Any = None,
        alpha: bool = False,
        desc: bool = False,
        by_score: Any = None,
    ) -> ExtendedCollectionManager:
        """Sort by a field (name or field), by pk, or ``by_score``: the pks' scores in a
        sorted set (its key, or a SortedSetField of an instance).

        As ``by='-field'``, ``by_score='-key'`` sorts in descending order (as limpyd,
        which reads a leading ``-`` of the key so).
        """
        if by_score is None:
            if isinstance(by, RedisField):
                by = by.name
            clone = super().sort(by=by, alpha=alpha, desc=desc)
            clone._score = None
            return clone
        if by is not None:
            raise ImplementationValueError("sort() takes `by` or `by_score`, not both.")
        if isinstance(by_score, RedisField):
            if by_score.storage_type != "zset" or by_score.instance is None:
                raise ImplementationValueError(
                    f"by_score takes a SortedSetField of an instance, not {by_score!r}."
                )
            by_score = by_score.key
        if not isinstance(by_score, str):
            raise ImplementationValueError(
                f"by_score must be a key or a SortedSetField: {by_score!r}"
            )
        if by_score.startswith("-"):
            by_score, desc = by_score[1:], True
        clone = self._clone(_query=self._query.sorted(None))
        clone._score = {"key": by_score, "desc": desc}
        return clone

    def reverse(self) -> ExtendedCollectionManager:
        """A new collection in the reverse order (by descending scores after
        ``sort(by_score=...)``; a stored collection keeps its stored order)."""
        if self._source is not None:
            raise ImplementationError("A stored collection keeps its order: it cannot be reversed.")
        if self._score is not None and not self._query.sliced:
            return self._clone(_score=dict(self._score, desc=not self._score["desc"]))
        return super().reverse()

    def last(self) -> Any:
        if self._source is not None:  # read whole: its order cannot be reversed
            results = list(self)
            return results[-1] if results else None
        return super().last()

    def _counted_by_fetching(self) -> bool:
        # sort(by_score=): pks without a score are not in the results
        return super()._counted_by_fetching() or self._score is not None

    @property
    def ordered(self) -> bool:
        return super().ordered or self._score is not None or self._source is not None

    def values(self, *fields: Any, multi: bool = False) -> ExtendedCollectionManager:
        """A new collection returning dicts of these fields (default: every PKField,
        StringField and InstanceHashField). With ``multi=True``, multi-value fields may
        be asked too, read whole in the same call: a SetField as a ``set``, a ListField
        as a list, a SortedSetField as ``[(member, score), ...]`` in score order, a
        HashField as a dict (as redis-py's ``smembers``, ``lrange``, ``zrange(...,
        withscores=True)``, ``hgetall`` give them)."""
        names = self._names(fields, multi)
        return self._clone(_result=ValuesResult(self.model, names, multi))

    def values_list(self, *fields: Any, flat: bool = False) -> ExtendedCollectionManager:
        """A new collection returning tuples of these fields (or values, with ``flat``)."""
        names = self._names(fields)
        if flat and len(names) != 1:
            raise ImplementationValueError("values_list(flat=True) takes exactly one field.")
        return self._clone(_result=ValuesListResult(self.model, names, flat))

    def _names(self, fields: tuple[Any, ...], multi: bool = False) -> list[str]:
        if not fields:
            meta = self.model._meta
            return [
                f.name for f in meta.fields.values() if f.storage_type in ("pk", "string", "hfield")
            ]
        names = [field.name if isinstance(field, RedisField) else field for field in fields]
        for name in names:
            _value_spec(self.model, name, multi)  # unknown or multi-value field: fail now
        if SORTED_SCORE in names and self._score is None:
            raise ImplementationError(f"{SORTED_SCORE!r} needs sort(by_score=...) first.")
        return names

    # -- storing --------------------------------------------------------------------

    @property
    def stored_key(self) -> str | None:
        """The key of the stored pks this collection reads, if it comes from ``store``."""
        return self._source

    def from_stored(self, key: str) -> ExtendedCollectionManager:
        """A collection reading the pks stored at ``key`` (in their stored order)."""
        return self._clone(_source=key, _query=Query(), _intersections=(), _score=None)

    def store(self, key: str | None = None, ttl: int | None = DEFAULT_STORE_TTL) -> Any:
        """Run the collection and store its pks in a Redis list (``key``, default a new
        key of the model) that expires after ``ttl`` seconds (``None``: never).

        Returns a new collection reading them, with this one's result shape.
        """
        key = key or self.model._meta.keys.stored()
        plan = self._plan(count=False)
        if plan is None:
            self.model._meta.database.connection.delete(key)
        else:
            plan.pop("values", None)
            store_plan(self.model, plan, key, ttl)
        return self.from_stored(key)

    # -- running --------------------------------------------------------------------

    def _plan(self, count: bool) -> dict[str, Any] | None:
        plan = super()._plan(count)
        if plan is None:
            return None
        plan["filters"].extend(self._intersections)
        if self._source is not None:
            plan["source"] = self._source
        if self._score is not None:
            plan["score"] = dict(self._score)
        elif self._query.sort is None and self._source is None:
            # filtered on one value of a ScoredEqualIndex: ordered by its scores
            for operation in plan["filters"]:
                if operation.get("score_order"):
                    plan["score"] = {"key": operation["key"], "desc": False}
                    break
        return plan
