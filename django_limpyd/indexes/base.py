"""``BaseIndex``: what every index of a field stores, and how it is configured.

An index class describes *how* values are stored (``kind``: ``eq`` = one set of
pks per value, ``text`` = one sorted set ordered by value, ``num`` = one sorted
set scored by value), and ships the Lua module maintaining its entries
(:meth:`BaseIndex.lua_source`), compiled into each model's function library. The
write functions maintain index entries in the same atomic unit as the data;
Python only computes ``transform`` results, which the functions ask for when they
meet a value they have no transform for.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage.values import to_redis_string

if TYPE_CHECKING:
    from django_limpyd.fields.base import RedisField
    from django_limpyd.indexes.lookups import Lookup

__all__ = ["BaseIndex"]

_UNSET: Any = object()


class BaseIndex:
    """Base of every index class. Subclasses set ``kind``."""

    #: the index kind: the key of its Lua module in ``KINDS`` (core: "eq", "text", "num")
    kind: ClassVar[str] = ""
    #: filters read ``field__prefix__suffix`` when set
    prefix: ClassVar[str | None] = None
    #: separates the storage of two indexes of the same class on one field
    key: ClassVar[str | None] = None
    #: a function of the value, or of (index, value), giving what is indexed
    transform: ClassVar[Callable[..., Any] | None] = None
    #: whether this index enforces ``unique=True`` on its field
    handle_uniqueness: ClassVar[bool] = True
    #: filter suffix -> lookup class (see django_limpyd.indexes.lookups)
    lookups: ClassVar[dict[str, type[Lookup]]] = {}
    #: names of other fields of the model whose values the entries are made with
    deps: ClassVar[tuple[str, ...]] = ()

    def __init__(self, field: RedisField, position: int | str) -> None:
        if not self.kind:
            raise ImplementationError(f"{type(self).__name__} is abstract: it sets no kind.")
        self.field = field
        #: the id the scripts know this index by
        self.id = f"{field.name}/{position}"

    @classmethod
    def expand(cls, field: RedisField, position: int | str) -> list[BaseIndex]:
        """The index objects this class gives a field (one; a composition gives several)."""
        return [cls(field, position)]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.field.describe()}>"

    def check_definition(self) -> None:
        """Raise ``ImplementationError`` if the index cannot work on its model; called
        when a concrete model class is created, once it has all its fields (an index
        naming other fields checks them here)."""

    @classmethod
    def configure(
        cls,
        *,
        prefix: str | None = _UNSET,
        transform: Callable[..., Any] | None = _UNSET,
        handle_uniqueness: bool | None = _UNSET,
        key: str | None = _UNSET,
        name: str | None = None,
    ) -> type[BaseIndex]:
        """Return a new index class with these settings (unset ones are inherited)."""
        attrs: dict[str, Any] = {"__module__": cls.__module__}
        for attr, value in (
            ("prefix", prefix),
            ("key", key),
            ("handle_uniqueness", handle_uniqueness),
        ):
            if value is not _UNSET:
                attrs[attr] = value
        if transform is not _UNSET:
            if transform is not None and not callable(transform):
                raise ImplementationError(f"transform must be callable, got {transform!r}")
            attrs["transform"] = staticmethod(transform) if transform else None
        return type(name or cls.__name__, (cls,), attrs)

    # -- values ---------------------------------------------------------------------

    @property
    def has_transform(self) -> bool:
        """True if a Python function decides what is indexed (scripts must ask)."""
        return type(self).transform is not None

    def transform_value(self, value: str) -> str | None:
        """What this index stores for the raw ``value`` (``None``: not indexed)."""
        function = type(self).transform
        if function is None:
            return value
        takes_self = len(inspect.signature(function).parameters) >= 2
        result = function(self, value) if takes_self else function(value)
        if result is None:
            return None
        return to_redis_string(result, f"The transform of {self!r}")

    # -- storage --------------------------------------------------------------------

    @property
    def handles_uniqueness(self) -> bool:
        """True if this index enforces the field's ``unique``."""
        return bool(self.field.unique and type(self).handle_uniqueness)

    @property
    def storage_base(self) -> str:
        """The key of a range index, or the key prefix of an equal index."""
        base = self.__dict__.get("_storage_base")
        if base is None:
            keys = self.field.model._meta.keys
            base = self.__dict__["_storage_base"] = keys.index_storage(
                self.field.name, self.kind, self.prefix, self.key
            )
        return base

    def get_storage_key(self, value: Any = None) -> str:
        """The Redis key holding the entries for the stored ``value`` (the transform
        is applied) — the only key of a range index."""
        if self.kind != "eq":
            return self.storage_base
        if hasattr(value, "_meta"):  # an instance: its pk
            value = value.pk.get()
        indexed = self.transform_value(to_redis_string(value, repr(self)))
        return self.storage_base + ("" if indexed is None else indexed)

    # -- filtering ------------------------------------------------------------------

    def lookup(self, suffix: str, value: Any) -> Lookup:
        """The lookup handling ``suffix`` with ``value``, or ImplementationError."""
        from django_limpyd.indexes.lookups import unhandled

        lookup_class = self.lookups.get(suffix)
        if lookup_class is None:
            raise unhandled(self, suffix)
        return lookup_class(self, value)

    def equal_operation(self, value: str) -> dict[str, Any]:
        """The collection-script operation selecting pks holding ``value``."""
        raise NotImplementedError

    def range_operation(self, comparison: str, value: str) -> dict[str, Any]:
        """The collection-script operation for ``gt``/``gte``/``lt``/``lte``/``startswith``."""
        raise NotImplementedError

    def entry(self, pk: str, value: str) -> tuple[str, str, float | None]:
        """``(key, member, score)`` of the entry indexing ``value`` for ``pk``
        (score ``None`` for a set); the scripts write the same entries."""
        raise NotImplementedError

    # -- maintenance ----------------------------------------------------------------

    def clear(self, chunk_size: int = 1000) -> int:
        """Delete every entry of this index; the number of keys deleted."""
        from django_limpyd.indexes.maintenance import clear_index

        return clear_index(self, chunk_size)

    def rebuild(self, chunk_size: int = 1000, advance: Callable[[int], None] | None = None) -> int:
        """Clear, then index every instance again, ``chunk_size`` at a time.

        Returns the number of instances read (``advance(n)`` is called after each
        chunk of ``n``). Meant for quiet times (after adding an index to a field with
        data): writes made during the rebuild may be indexed twice or missed;
        ``consistency_check`` tells.
        """
        from django_limpyd.indexes.maintenance import rebuild_index

        return rebuild_index(self, chunk_size, advance)

    @classmethod
    def lua_source(cls) -> str:
        """The Lua module maintaining this kind's entries (``KINDS[kind]``: ``add``,
        ``remove``, ``holder``, and optionally ``token``, ``refuse``, ``describe``,
        ``apply``; see ``storage/lua/kinds/eq.lua``). Index kinds outside the core
        override this to ship their own."""
        from django_limpyd.storage.compiler import core_kind_source

        return core_kind_source(cls.kind)

    def spec(self) -> dict[str, Any]:
        """This index as the scripts see it."""
        meta = self.field.model._meta
        spec = {
            "id": self.id,
            "kind": self.kind,
            "base": self.storage_base,
            "unique": self.handles_uniqueness,
            "transform": self.has_transform,
            "deps": [meta.light_spec(meta.get_field(name)) for name in self.deps],
        }
        target = self.field.pointer_target(self)
        if target is not None:
            spec["target"] = target
            target_expiry = self.field.pointer_target_expiry(self)
            if target_expiry is not None:
                spec["target_expiry"] = target_expiry
        return spec
