"""``ScoredEqualIndex``: an equal index kept in sorted sets scored by another field.

One sorted set per indexed value (members: pks), scored by the number in the
*score field* of each instance. An instance whose score field is not set is not
indexed. The write functions keep the entries right when either field changes,
in the same atomic unit as the write (index kind ``scored``, see
``lua/scored.lua`` next to this module).

Filtering (``field=value``, ``field__eq=``, ``field__in=[...]``) gives the pks;
with :class:`~django_limpyd.contrib.collection.ExtendedCollectionManager` the
result of a filter on one value comes sorted by score, in the same call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any, ClassVar

from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes.base import BaseIndex
from django_limpyd.indexes.lookups import EqualLookup, InLookup
from django_limpyd.indexes.range import index_number
from django_limpyd.storage.values import to_redis_string

__all__ = ["ScoredEqualIndex"]

#: the ``key`` part of the storage name of every ScoredEqualIndex (see ``storage_base``)
STORAGE_KEY = "scored"


def storage_key(kind_key: str, key: str | None) -> str:
    """The ``key`` given to ``ModelKeys.index_storage`` for a contrib index kind."""
    return kind_key if not key else f"{kind_key}:{key}"


def single_value_dep(index: BaseIndex, name: str, role: str) -> Any:
    """The field ``name`` of the index's model, checked to be usable as ``role``."""
    meta = index.field.model._meta
    if name == index.field.name:
        raise ImplementationError(f"{index!r}: the {role} cannot be the indexed field itself.")
    if name not in meta.fields or meta.fields[name] is meta.pk_field:
        raise ImplementationError(
            f"{index!r}: the {role} {name!r} is not a field of {meta.name} "
            f"(fields: {', '.join(f.name for f in meta.data_fields)})."
        )
    field = meta.fields[name]
    if field.storage_type not in ("string", "hfield"):
        raise ImplementationError(
            f"{index!r}: the {role} {field.describe()} holds several values; it must be a "
            "StringField or an InstanceHashField."
        )
    return field


class ScoredEqualIndex(BaseIndex):
    """Equal index (``eq``, ``in``) stored in sorted sets scored by ``score_field``.

    Declare with ``ScoredEqualIndex.configure(score_field='priority')``.
    """

    kind = "scored"
    lookups = {"eq": EqualLookup, "in": InLookup}
    #: the name of the field of the same model giving the scores
    score_field: ClassVar[str | None] = None

    @classmethod
    def configure(cls, *, score_field: str | None = None, **settings: Any) -> type[BaseIndex]:
        """A new class with these settings; ``score_field`` names the field giving the
        scores (other settings as for every index: prefix, transform, key, ...)."""
        configured = super().configure(**settings)
        if score_field is not None:
            if not isinstance(score_field, str) or not score_field:
                raise ImplementationError(
                    f"score_field must be the name of a field, got {score_field!r}."
                )
            configured.score_field = score_field
            configured.deps = (score_field,)
        return configured

    @classmethod
    def expand(cls, field: Any, position: int | str) -> list[BaseIndex]:
        if not cls.score_field:
            raise ImplementationError(
                f"{cls.__name__} of {field.describe()} needs a score field: "
                "ScoredEqualIndex.configure(score_field='name of a field')."
            )
        return super().expand(field, position)

    # -- storage --------------------------------------------------------------------

    @property
    def storage_base(self) -> str:
        """The key prefix of the sorted sets (append the indexed value)."""
        keys = self.field.model._meta.keys
        return keys.index_storage(
            self.field.name, "eq", self.prefix, storage_key(STORAGE_KEY, self.key)
        )

    def get_storage_key(self, value: Any = None) -> str:
        """The sorted set of the pks holding ``value`` (an instance: its pk), scored."""
        if hasattr(value, "_meta") and hasattr(value, "pk"):
            value = value.pk.get()
        indexed = self.transform_value(to_redis_string(value, repr(self)))
        return self.storage_base + ("" if indexed is None else indexed)

    @classmethod
    def lua_source(cls) -> str:
        """The ``scored`` kind's Lua module (``contrib/indexes/lua/scored.lua``)."""
        return lua_module("scored")

    def check_definition(self) -> None:
        """As limpyd requires: the score field is another single-value field of the
        model, and the model's ``collection_manager`` an ExtendedCollectionManager
        (which sorts by score), unless the indexed field is a related field (its
        related collections always use the ExtendedCollectionManager)."""
        single_value_dep(self, self.score_field, "score field")
        from django_limpyd.contrib.collection import ExtendedCollectionManager
        from django_limpyd.contrib.related.base import RelatedFieldMixin

        if isinstance(self.field, RelatedFieldMixin):
            return
        model = self.field.model
        manager = getattr(model, "collection_manager", None)
        if not (isinstance(manager, type) and issubclass(manager, ExtendedCollectionManager)):
            raise ImplementationError(
                f"{self!r} needs the ExtendedCollectionManager: set collection_manager = "
                f"ExtendedCollectionManager (django_limpyd.contrib.collection) on "
                f"{model.__name__}."
            )

    def spec(self) -> dict[str, Any]:
        single_value_dep(self, self.score_field, "score field")
        return super().spec()

    # -- filtering ------------------------------------------------------------------

    def equal_operation(self, value: str) -> dict[str, Any]:
        """The pks of the sorted set of ``value``; ``score_order`` tells an
        ExtendedCollectionManager it may order the result by this set's scores."""
        return {"op": "key", "key": self.storage_base + value, "score_order": True}

    # -- entries (consistency checks and rebuilds) ----------------------------------

    def entry(self, pk: str, value: str) -> tuple[str, str, float | None]:
        raise ImplementationError(
            f"{self!r}: an entry needs the score too; use entries_for(pk, values_by_field)."
        )

    def entries_for(
        self, pk: str, values_by_field: Mapping[str, list[str]]
    ) -> Iterator[tuple[str, str, float]]:
        """The ``(key, pk, score)`` entries of instance ``pk`` given the raw values of
        the indexed field and of the score field (none while the score is not set)."""
        scores = values_by_field.get(self.score_field) or []
        if not scores:
            return
        score = index_number(scores[0])
        indexed = {self.transform_value(raw) for raw in values_by_field[self.field.name]}
        for value in sorted(indexed - {None}):
            yield self.storage_base + value, pk, score


def lua_module(kind: str) -> str:
    """The Lua module of a contrib index kind (``lua/<kind>.lua`` next to this module)."""
    return (resources.files("django_limpyd.contrib.indexes") / "lua" / f"{kind}.lua").read_text()
