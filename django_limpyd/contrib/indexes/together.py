"""``EqualIndexWith``: one equal index over several fields (filters, unique together).

Declared on one field with the other fields it indexes together::

    name = fields.InstanceHashField(indexable=True, indexes=[
        EqualIndex,
        EqualIndexWith.configure(other_fields=['priority'], unique=True),
    ])

An instance is indexed once every field is set, under the values of all of them
(one set of pks per combination; index kind ``with``, ``lua/with.lua`` next to
this module, with which the write functions keep the entries right when any of
the fields changes, atomically). With ``unique=True`` no two instances hold the
same combination.

Filtering needs every field in the same call (``name='foo', priority=1``; each
may use ``__eq``, ``__exact`` or ``__in``): :func:`django_limpyd.collection.filters.lookups_for`
asks the index to combine them into one lookup (:meth:`EqualIndexWith.combine_filters`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import product
from typing import Any, ClassVar

from django_limpyd.contrib.indexes.scored import lua_module, single_value_dep, storage_key
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.indexes.base import BaseIndex
from django_limpyd.indexes.lookups import Lookup

__all__ = ["EqualIndexWith", "EqualWithLookup", "together_token"]


def _part(value: str) -> str:
    # the byte length, as Lua's ``#`` counts it
    return f"{len(value.encode())}:{value}"


def together_token(values: list[str]) -> str:
    """The entry token of these values (the indexed field's first, then the other
    fields' in order): ``"len:value:len:value..."``, as ``KINDS.with.token`` in
    ``lua/with.lua`` builds it."""
    return ":".join(_part(value) for value in values)


def split_together_token(token: str) -> list[str]:
    """The values of a token made by :func:`together_token`."""
    data, values = token.encode(), []
    position = 0
    while position < len(data):
        colon = data.index(b":", position)
        length = int(data[position:colon])
        start = colon + 1
        values.append(data[start : start + length].decode())
        position = start + length + 1  # the ':' separating two parts
    return values


class EqualWithLookup(Lookup):
    """Filters on every field of an :class:`EqualIndexWith`, as one lookup.

    ``value`` is ``{field name: (suffix, value)}`` with ``suffix`` ``"eq"`` or ``"in"``.
    """

    suffix = "eq"

    def __init__(self, index: BaseIndex, value: dict[str, tuple[str, Any]]) -> None:
        value = dict(value)
        super().__init__(index, value)
        for name, (suffix, item) in list(value.items()):
            if suffix == "in" and (isinstance(item, (str, bytes)) or not hasattr(item, "__iter__")):
                raise InvalidValue(f"{self.describe()}: {name}__in needs a list, got {item!r}.")
            if suffix == "in":
                value[name] = (suffix, list(item))  # an iterator is read once, here
        self.deferred = any(
            getattr(item, "instance", None) is not None
            for suffix, item in value.values()
            if suffix == "eq"
        )

    def describe(self) -> str:
        fields = "+".join(self.index.fields_together)
        return f"{self.index.field.model.__name__}.{fields} ({type(self.index).__name__})"

    def operation(self) -> dict[str, Any] | None:
        choices = []
        for name in self.index.fields_together:
            suffix, item = self.value[name]
            items = [item] if suffix == "eq" else item
            choices.append(sorted({self.indexed(one) for one in items}))
        tokens = [together_token(list(values)) for values in product(*choices)]
        ops = [{"op": "set", "key": self.index.storage_base + token} for token in tokens]
        if not ops:
            return None
        return ops[0] if len(ops) == 1 else {"op": "any", "ops": ops}


class EqualIndexWith(BaseIndex):
    """Equal index of a field together with ``other_fields`` (optionally unique together).

    Declare with ``EqualIndexWith.configure(other_fields=['b', 'c'], unique=True)``.
    """

    kind = "with"
    #: filters are combined by ``combine_filters``: no suffix works on one field alone
    lookups = {}
    #: the names of the other fields of the model indexed with this one
    other_fields: ClassVar[tuple[str, ...]] = ()
    #: True: no two instances may hold the same values of all the fields
    unique: ClassVar[bool] = False

    @classmethod
    def configure(
        cls,
        *,
        other_fields: list[str] | tuple[str, ...] | None = None,
        unique: bool | None = None,
        **settings: Any,
    ) -> type[BaseIndex]:
        """A new class indexing its field with ``other_fields`` (names of single-value
        fields of the model), ``unique`` together or not; other settings as for every
        index (prefix, transform of the indexed field's value, key, name)."""
        configured = super().configure(**settings)
        if other_fields is not None:
            if isinstance(other_fields, str) or not all(
                isinstance(name, str) and name for name in other_fields
            ):
                raise ImplementationError(
                    f"other_fields must be a list of field names, got {other_fields!r}."
                )
            names = tuple(other_fields)
            if not names or len(set(names)) != len(names):
                raise ImplementationError(
                    f"other_fields must name distinct fields, at least one: {other_fields!r}."
                )
            configured.other_fields = configured.deps = names
        if unique is not None:
            configured.unique = bool(unique)
        return configured

    @classmethod
    def expand(cls, field: Any, position: int | str) -> list[BaseIndex]:
        if not cls.other_fields:
            raise ImplementationError(
                f"{cls.__name__} of {field.describe()} needs other fields: "
                "EqualIndexWith.configure(other_fields=['name', ...])."
            )
        if field.name in cls.other_fields:
            raise ImplementationError(
                f"{cls.__name__} of {field.describe()}: other_fields cannot name the field itself."
            )
        if cls.unique and field.storage_type == "list":
            raise ImplementationError(
                f"{cls.__name__} of {field.describe()}: a ListField cannot be unique together "
                "with other fields (a list may hold a value twice)."
            )
        return super().expand(field, position)

    def check_definition(self) -> None:
        """The other fields must be single-value fields of the model."""
        for name in self.other_fields:
            single_value_dep(self, name, "other field")

    @property
    def fields_together(self) -> tuple[str, ...]:
        """Every field of the index: this one first, then the others."""
        return (self.field.name, *self.other_fields)

    # -- storage --------------------------------------------------------------------

    @property
    def storage_base(self) -> str:
        """The key prefix of the sets (append a token of the values)."""
        keys = self.field.model._meta.keys
        kind_key = "with:" + ",".join(self.other_fields)
        return keys.index_storage(
            self.field.name, "eq", self.prefix, storage_key(kind_key, self.key)
        )

    def get_storage_key(self, value: Any = None, *others: Any) -> str:
        """The set of pks holding these values: ``value`` of this field, then the values
        of the other fields in order (instances stand for their pks)."""
        values = [value, *others]
        if len(values) != len(self.fields_together):
            raise ImplementationError(
                f"{self!r}.get_storage_key() takes a value for each of "
                f"{', '.join(self.fields_together)}."
            )
        lookup = EqualWithLookup(
            self,
            {name: ("eq", item) for name, item in zip(self.fields_together, values, strict=True)},
        )
        strings = [lookup.indexed(item) for item in values]
        indexed = self.transform_value(strings[0])
        if indexed is None:
            return self.storage_base
        return self.storage_base + together_token([indexed, *strings[1:]])

    @property
    def handles_uniqueness(self) -> bool:
        """False: the field's own ``unique`` needs another index; ``unique`` (together)
        is this index's own."""
        return False

    @classmethod
    def lua_source(cls) -> str:
        """The ``with`` kind's Lua module (``contrib/indexes/lua/with.lua``)."""
        return lua_module("with")

    def spec(self) -> dict[str, Any]:
        for name in self.other_fields:
            single_value_dep(self, name, "other field")
        return {**super().spec(), "unique": self.unique, "together": list(self.fields_together)}

    def conflict_message(self, payload: Mapping[str, Any]) -> str:
        """The UniquenessError message for the script's conflict ``payload``."""
        try:
            values = split_together_token(str(payload.get("value")))
        except ValueError:
            values = [str(payload.get("value"))]
        names = self.fields_together
        pairs = ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=False))
        return (
            f'Value "{pairs}" already indexed for unique together fields '
            f"[{', '.join(names)}] on {self.field.model.__name__} "
            f"(for instance {payload.get('pk')})"
        )

    # -- filtering ------------------------------------------------------------------

    def filter_names(self, field_name: str) -> dict[str, str]:
        """``{filter name: suffix}`` of the filters this index takes for ``field_name``."""
        base = field_name
        if field_name == self.field.name and self.prefix:
            base += "__" + self.prefix
        return {base: "eq", base + "__eq": "eq", base + "__exact": "eq", base + "__in": "in"}

    def combine_filters(self, filters: Mapping[str, Any]) -> tuple[Lookup, list[str]] | None:
        """One lookup for filters on every field of the index (and the filter names it
        used), or ``None`` if a field has no filter here."""
        found: dict[str, tuple[str, Any]] = {}
        used = []
        for name in self.fields_together:
            for filter_name, suffix in self.filter_names(name).items():
                if filter_name in filters:
                    found[name] = (suffix, filters[filter_name])
                    used.append(filter_name)
                    break
            else:
                return None
        return EqualWithLookup(self, found), used

    # -- entries (consistency checks and rebuilds) ----------------------------------

    def entry(self, pk: str, value: str) -> tuple[str, str, float | None]:
        raise ImplementationError(
            f"{self!r}: an entry needs the other fields too; use entries_for(pk, values_by_field)."
        )

    def entries_for(
        self, pk: str, values_by_field: Mapping[str, list[str]]
    ) -> Iterator[tuple[str, str, None]]:
        """The ``(key, pk, None)`` entries of instance ``pk`` given the raw values of
        every field of the index (none until all are set)."""
        others = []
        for name in self.other_fields:
            raws = values_by_field.get(name) or []
            if not raws:
                return
            others.append(raws[0])
        indexed = {self.transform_value(raw) for raw in values_by_field[self.field.name]}
        for value in sorted(indexed - {None}):
            yield self.storage_base + together_token([value, *others]), pk, None

    def __repr__(self) -> str:
        others = ", ".join(self.other_fields)
        return f"<{type(self).__name__} of {self.field.describe()} with {others}>"
