"""Turning ``field__prefix__suffix=value`` filters into index lookups.

A HashField is filtered on one entry, as in limpyd: ``headers__from="a@b"``, that is
the field, the entry's key, then the index prefix and suffix if any
(``headers__from__startswith="a@"``); or with the entry as a dict:
``headers={"from": "a@b"}`` (what an entry key holding ``__`` needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_limpyd.collection.conditions import Negated
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.storage.state import hash_entry_token
from django_limpyd.storage.values import to_redis_string

__all__ = ["Negated", "NoMatch", "PkLookup", "lookup_for", "lookups_for", "pk_value"]


def pk_value(value: Any) -> Any:
    """A pk given as limpyd takes it: an instance stands for its pk, a field of an
    instance (its ``PKField``, a related field) for its value, read now."""
    if hasattr(value, "_meta") and hasattr(value, "pk") and not isinstance(value, type):
        return value.pk.get()
    if hasattr(value, "current_value") and getattr(value, "instance", None) is not None:
        return value.current_value()
    return value


def _read_later(value: Any) -> bool:
    """True for a field of an instance other than its pk: its value is read when the
    collection runs, as for the other filters."""
    return (
        hasattr(value, "current_value")
        and getattr(value, "instance", None) is not None
        and getattr(value, "storage_type", None) != "pk"
    )


def _suffix(name: str) -> str:
    """A filter suffix as indexes name it: Django's ``exact`` is ``eq``."""
    return "eq" if name == "exact" else name


class NoMatch:
    """``none()``: a lookup matching nothing (the collection is not sent to Redis)."""

    deferred = False

    def planned(self) -> None:
        """Nothing can match."""
        return None


class PkLookup:
    """``pk=value`` / ``pk__in=[...]``: the instances with these pks. A value may be
    an instance, or a field of an instance (its PKField, a related field)."""

    def __init__(self, model: type, suffix: str, value: Any) -> None:
        self.model = model
        if suffix == "eq":
            self.values = [value]
        elif suffix == "in":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise InvalidValue(f"{model.__name__}.pk__in needs a list, got {value!r}.")
            self.values = list(value)
        else:
            raise ImplementationError(
                f"{model.__name__}.pk cannot handle the filter suffix {suffix!r} (eq, in)."
            )
        self.deferred = any(_read_later(item) for item in self.values)
        if not self.deferred:
            self.pks = self._pks()

    def _pks(self) -> list[str]:
        normalize = self.model._meta.pk_field.normalize
        return sorted({normalize(pk_value(item)) for item in self.values})

    def operation(self) -> dict[str, Any] | None:
        """The pks, kept only if they exist."""
        pks = self._pks() if self.deferred else self.pks
        return {"op": "pks", "values": pks} if pks else None

    planned = operation


def lookups_for(model: type, filters: dict[str, Any]) -> list[Any]:
    """The lookups for ``filters`` on ``model``.

    Indexes made of several fields (those with a ``combine_filters(filters)``
    method, e.g. ``EqualIndexWith``) first take the filters they need together,
    each giving one lookup; every other filter gets its own (:func:`lookup_for`).
    """
    meta = model._meta
    remaining = dict(filters)
    lookups = []
    combining = [
        index
        for field in meta.data_fields
        for index in field.indexes
        if hasattr(index, "combine_filters")
    ]
    for index in combining:
        while combined := index.combine_filters(remaining):
            lookup, used = combined
            lookups.append(lookup)
            for name in used:
                del remaining[name]
    for name, value in remaining.items():
        try:
            lookups.append(lookup_for(model, name, value))
        except ImplementationError:
            field_name = name.split("__", 1)[0]
            if any(field_name in getattr(index, "fields_together", ()) for index in combining):
                # a field indexed only together with others (limpyd's wording)
                raise ImplementationError(
                    f'No index found to manage filter "{name}" for field '
                    f"{meta.get_field(field_name).describe()}"
                ) from None
            raise
    return lookups


def lookup_for(model: type, name: str, value: Any) -> Any:
    """The lookup for the filter ``name=value`` on ``model`` (ImplementationError naming
    model, field and suffix when no index handles it)."""
    meta = model._meta
    field_name, *parts = name.split("__")
    if not meta.has_field(field_name):
        raise ImplementationError(
            f"Cannot filter {meta.name} on {name!r}: {meta.name} has no field {field_name!r}."
        )
    field = meta.get_field(field_name)
    if field is meta.pk_field:
        if len(parts) > 1:
            raise ImplementationError(f"Cannot filter {meta.name} on {name!r}.")
        return PkLookup(model, _suffix(parts[0]) if parts else "eq", value)
    if not field.indexes:
        raise ImplementationError(
            f"Cannot filter {meta.name} on {name!r}: {field.describe()} is not indexed "
            "(set indexable=True or indexes=[...])."
        )
    if field.storage_type == "hash" and parts and not isinstance(value, Mapping):
        return _hash_entry_lookup(field, name, parts, value)
    if len(parts) > 2:
        raise ImplementationError(f"Cannot filter {meta.name} on {name!r}: too many '__'.")
    candidates = []
    for index in field.indexes:
        rest = parts
        if index.prefix:
            if not rest or rest[0] != index.prefix:
                continue
            rest = rest[1:]
        if len(rest) > 1:
            continue
        suffix = _suffix(rest[0]) if rest else "eq"
        candidates.append((index, suffix))
        if suffix in index.lookups:
            if field.storage_type == "hash" and suffix == "eq":
                value = _hash_entry(field, value)
            lookup = index.lookup(suffix, value)
            # a field of an instance is read when the collection runs, not now
            lookup.deferred = getattr(value, "instance", None) is not None
            return lookup
    suffix = candidates[0][1] if candidates else (parts[-1] if parts else "eq")
    raise ImplementationError(
        f"No index of {field.describe()} handles the filter {name!r} "
        f"(suffix {suffix!r}; indexes: "
        + ", ".join(
            f"{type(index).__name__}(prefix={index.prefix!r}: {', '.join(sorted(index.lookups))})"
            for index in field.indexes
        )
        + ")."
    )


def _hash_entry(field: Any, value: Any) -> str:
    """A HashField filter value ``{key: value}`` (one entry) as its index stores it."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidValue(
            f"{field.describe()} filters take one entry: {field.name}__<key>=value, or a "
            f"dict {{'key': 'value'}}; got {value!r}."
        )
    [(key, entry)] = value.items()
    where = field.describe()
    key, entry = to_redis_string(key, where), to_redis_string(entry, where)
    return hash_entry_token(key, entry)


#: the suffixes of a HashField entry filter, and the index kinds serving each (``None``:
#: any but a number index). An index stores an entry as one token, ``len(key):key:value``
#: (``storage.state.hash_entry_token``): equal values are equal tokens and a prefix of a
#: value is a prefix of its token, but no range of the values of one key is a range of
#: tokens, and a number index scores tokens, not numbers.
_HASH_ENTRY_SUFFIXES = {
    "eq": None,
    "in": None,
    "startswith": ("text",),
    "gt": ("text",),
    "gte": ("text",),
    "lt": ("text",),
    "lte": ("text",),
}


def _hash_entry_lookup(field: Any, name: str, parts: list[str], value: Any) -> Any:
    """The lookup for ``headers__<key>[__prefix][__suffix]=value`` on a HashField."""
    key, rest = parts[0], parts[1:]
    where = field.describe()
    if not key:
        raise ImplementationError(f"Cannot filter {where} on {name!r}: the entry key is empty.")
    refused = None
    for index in field.indexes:
        remaining = rest
        if index.prefix:
            if not remaining or remaining[0] != index.prefix:
                continue
            remaining = remaining[1:]
        if len(remaining) > 1:
            continue
        suffix = _suffix(remaining[0]) if remaining else "eq"
        if suffix not in index.lookups:
            continue
        kinds = _HASH_ENTRY_SUFFIXES.get(suffix, ())
        if index.kind == "num":
            refused = refused or (
                f"a {type(index).__name__} of a HashField indexes its entries as text, "
                "not as numbers"
            )
            continue
        if kinds is not None and index.kind not in kinds:
            refused = refused or (
                f"HashField entries take the suffixes eq and in, and startswith, gt, gte, lt "
                f"and lte with a TextRangeIndex, not {suffix!r}"
            )
            continue
        if suffix == "in":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise InvalidValue(f"{where}: {name} needs a list of values, got {value!r}.")
            tokens: Any = [_entry_token(field, name, key, item) for item in value]
        else:
            tokens = _entry_token(field, name, key, value)
        lookup = index.lookup(suffix, tokens)
        if suffix in ("gt", "gte", "lt", "lte"):
            return EntryRange(lookup, hash_entry_token(key, ""))
        return lookup
    if refused:
        raise ImplementationError(f"Cannot filter {where} on {name!r}: {refused}.")
    raise ImplementationError(
        f"No index of {where} handles the filter {name!r} (a HashField entry: "
        f"{field.name}__<key>[__prefix][__suffix]; indexes: "
        + ", ".join(
            f"{type(index).__name__}(prefix={index.prefix!r}: {', '.join(sorted(index.lookups))})"
            for index in field.indexes
        )
        + ")."
    )


class EntryRange:
    """A range lookup on the entries of one key of a HashField (``headers__from__gt=``):
    the operation of the text range lookup it wraps, with the prefix of that key's
    tokens (``len(key):key:``), which keeps an open bound (``gt``: no upper one) inside
    them."""

    def __init__(self, lookup: Any, prefix: str) -> None:
        self.lookup = lookup
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lookup, name)

    def planned(self) -> dict[str, Any] | None:
        """The wrapped lookup's operation, with ``prefix``."""
        operation = self.lookup.planned()
        return None if operation is None else dict(operation, prefix=self.prefix)


def _entry_token(field: Any, name: str, key: str, value: Any) -> str:
    """The index token of the entry ``key: value`` (an instance stands for its pk, a
    field of an instance for its value, read now)."""
    value = pk_value(value)
    if value is None:
        raise InvalidValue(f"{field.describe()}: None cannot be filtered on ({name}).")
    return hash_entry_token(key, to_redis_string(value, field.describe()))
