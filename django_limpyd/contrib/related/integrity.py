"""Referential integrity of related fields, for commands and consistency checks.

* :func:`pointing_fields`: the related fields of other models pointing to some
  models (what refuses ``limpyd_flush`` without ``--cascade``);
* :func:`clear_pointers`: empty such a field on every instance holding a value,
  one normal field write per instance (atomic, indexes kept exact);
* :func:`find_dangling` / :func:`clear_dangling`: values of related fields whose
  target pk does not exist (left by an earlier flush, or by a write made without
  django_limpyd), found from the data (not the indexes) and removed by the
  field's own removing commands.

Writes never create a dangling pointer (the write scripts check the target in
the same atomic call, and deleting a target clears the pointers to it); only a
flush of the target's keys, or raw Redis writes, can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage.state import iter_pk_chunks, read_values

__all__ = [
    "DanglingPointer",
    "clear_dangling",
    "clear_pointers",
    "find_dangling",
    "pointing_fields",
    "related_fields",
]

#: called with the number of instances read, after each chunk
Advance = Callable[[int], None]


def related_fields(model: type) -> list[Any]:
    """The related fields (foreign keys, many-to-many) declared on ``model``."""
    from django_limpyd.contrib.related.base import RelatedFieldMixin

    return [field for field in model._meta.data_fields if isinstance(field, RelatedFieldMixin)]


def pointing_fields(models: Iterable[type]) -> list[Any]:
    """The related fields pointing to one of ``models``, declared on a model that is
    not one of them (a field of a model flushed with its target goes with it)."""
    from django_limpyd.contrib.related import resolution

    models = list(models)
    resolution.resolve_pending()  # every relation to these models is bound first
    metas = {model._meta for model in models}
    found: list[Any] = []
    for model in models:
        for field in model._meta.referrers:
            owner = field.model
            if owner._meta in metas or not resolution._is_current(owner) or field in found:
                continue
            found.append(field)
    return found


def _values(field: Any, chunk_size: int, advance: Advance | None) -> Iterator[tuple[str, list]]:
    """``(pk, raw values)`` of every instance of ``field``'s model holding a value."""
    for pks in iter_pk_chunks(field.model, chunk_size):
        for pk, values in read_values([field], pks)[field.name].items():
            if values:
                yield pk, values
        if advance is not None:
            advance(len(pks))


def clear_pointers(field: Any, chunk_size: int = 1000, advance: Advance | None = None) -> int:
    """Delete the value of ``field`` on every instance holding one; the number of
    instances changed. Each is one write of the field (``delete``/``hdel``),
    atomic with its index entries (of a sharded model: the field of each shard)."""
    if field.model._meta.shard_models:
        return sum(
            clear_pointers(shard._meta.get_field(field.name), chunk_size, advance)
            for shard in field.model._meta.shard_models
        )
    cleared = 0
    for pk, _values_held in _values(field, chunk_size, advance):
        instance = field.model.lazy_connect(pk)
        if getattr(instance, field.name).delete():
            cleared += 1
    return cleared


@dataclass(frozen=True)
class DanglingPointer:
    """Values of ``field`` on instance ``pk`` naming target pks that do not exist."""

    field: Any
    pk: str
    values: tuple[str, ...]

    @property
    def message(self) -> str:
        """``Post.author dangling pointer: instance '3' points to Author '1', which does
        not exist``."""
        target = self.field.related_model._meta.name
        listed = ", ".join(repr(value) for value in self.values)
        which = "which does not exist" if len(self.values) == 1 else "which do not exist"
        return (
            f"{self.field.model._meta.name}.{self.field.name} dangling pointer: instance "
            f"{self.pk!r} points to {target} {listed}, {which}"
        )


def find_dangling(
    model: type, chunk_size: int = 1000, advance: Advance | None = None
) -> list[DanglingPointer]:
    """Every value of a related field of ``model`` whose target pk does not exist
    (read from the data: one round trip per chunk of instances and field, plus one
    ``ZMSCORE`` on the target's pks, one per shard holding some for a sharded target;
    a sharded ``model``: each of its shards)."""
    from django_limpyd.contrib.related.crossslot import existing

    if model._meta.shard_models:
        return [
            pointer
            for shard in model._meta.shard_models
            for pointer in find_dangling(shard, chunk_size, advance)
        ]
    found: list[DanglingPointer] = []
    for field in related_fields(model):
        try:
            target = field.related_model
        except ImplementationError:
            continue  # an unknown target: system check limpyd.E006 reports it
        for pks in iter_pk_chunks(model, chunk_size):
            held = read_values([field], pks)[field.name]
            wanted = sorted({value for values in held.values() for value in values})
            if wanted:
                found_pks = existing(target, wanted)
                missing = {
                    value for value, there in zip(wanted, found_pks, strict=True) if not there
                }
                for pk, values in held.items():
                    gone = tuple(sorted(value for value in values if value in missing))
                    if gone:
                        found.append(DanglingPointer(field, pk, gone))
            if advance is not None:
                advance(len(pks))
    return found


def clear_dangling(pointer: DanglingPointer) -> int:
    """Remove the dangling values of ``pointer`` with the field's own removing
    commands (its index entries go with them); values whose target exists again
    are kept. The number of values removed."""
    from django_limpyd.contrib.related.crossslot import existing

    field = pointer.field
    target = field.related_model
    found = existing(target, list(pointer.values))
    values = [value for value, there in zip(pointer.values, found, strict=True) if not there]
    if not values:
        return 0
    bound = getattr(field.model.lazy_connect(pointer.pk), field.name)
    kind = field.storage_type
    if kind in ("string", "hfield"):
        current = read_values([field], [pointer.pk])[field.name][pointer.pk]
        if current != values:
            return 0
        bound.delete()
    elif kind == "set":
        bound.srem(*values)
    elif kind == "zset":
        bound.zrem(*values)
    elif kind == "list":
        for value in values:
            bound.lrem(0, value)
    return len(values)
