"""Related fields between models in different slots of a Redis Cluster.

A function runs on one node, so the target check of a write and the clearing of
the pointers to a deleted instance cannot be part of the write's own atomic call
when the two models live in different slots (no shared ``hash_tag``). They are then
ordered, idempotent steps:

**A write pointing to targets** (a create with related values, ``set``, ``hset``,
``sadd``, ``zadd``, ...):

1. *pre-check*: the targets exist (read on their node); a missing one refuses the
   write before anything is sent (the same ``DoesNotExist`` as on one server);
2. the write itself (atomic on its node, with its index entries);
3. *settle*: the targets are read again; a pointer to one deleted meanwhile is
   cleared (as that deletion would have cleared it, had it seen it first).

**A delete of a target**: the delete (atomic on its node), then, for each related
field of a model in another slot, the instances its pointer index lists for the pk
have that pointer cleared: a compare-and-clear transaction (``WATCH``) for a single
value, ``SREM``/``ZREM``/``LREM`` of the pk for several.

Whatever the interleaving of a writer and a deleter, the pointer is cleared by one
or the other (the writer's step 3 comes after its write; the deleter lists pointers
after its delete). A process that stops between two steps leaves a dangling
pointer, which ``consistency_check`` and ``limpyd_index check`` report and ``check
--repair`` clears. An AutoPK target's pk is never given again, so such a pointer
never designates a new instance; a model whose pks are chosen by hand should keep
related models in one slot (``hash_tag``) for that guarantee.
"""

from __future__ import annotations

from typing import Any

from django_limpyd.client_cluster import is_cluster
from django_limpyd.storage.compiler import key_hash_tag

__all__ = [
    "clear_pointer",
    "clear_sources",
    "crosses_slots",
    "precheck",
    "settle",
]


def _tag(model: type) -> str:
    return key_hash_tag(model._meta.keys.prefix)


def crosses_slots(model: type, other: type) -> bool:
    """True if ``model`` and ``other`` are on a Redis Cluster, in different slots."""
    if _tag(model) == _tag(other):
        return False
    try:
        return is_cluster(model._meta.database.connection)
    except Exception:  # no database yet: decided again at the first write
        return False


def _missing(target: type, pks: list[str]) -> list[str]:
    if not pks:
        return []
    scores = target._meta.database.connection.zmscore(target._meta.keys.pks, pks)
    return [pk for pk, score in zip(pks, scores, strict=True) if score is None]


def precheck(field: Any, pks: list[str]) -> None:
    """Step 1: refuse (``<Target>.DoesNotExist``) a write pointing to a missing target."""
    target = field.related_model
    missing = _missing(target, [pk for pk in pks if pk])
    if missing:
        raise target.DoesNotExist(
            f"{field.describe()} cannot point to {target.__name__} {missing[0]!r}: it does "
            "not exist; nothing was written."
        )


def settle(instance: Any, field_name: str, pks: list[str]) -> None:
    """Step 3: clear the pointers of ``instance.<field_name>`` to targets among ``pks``
    deleted since step 1. Inside a pipeline (whose writes are sent later) it is left to
    ``limpyd_index check --repair``."""
    meta = type(instance)._meta
    if meta.database.active_pipeline() is not None:
        return
    field = meta.get_field(field_name)
    for pk in _missing(field.related_model, [pk for pk in pks if pk]):
        clear_pointer(instance, field_name, pk)


def clear_pointer(instance: Any, field_name: str, pk: str) -> None:
    """Remove ``pk`` from ``instance.<field_name>`` through the field's own writes
    (index entries follow); a single value only if it still is ``pk``."""
    bound = getattr(instance, field_name)
    kind = bound.storage_type
    if kind == "set":
        bound.srem(pk)
    elif kind == "zset":
        bound.zrem(pk)
    elif kind == "list":
        bound.lrem(0, pk)
    else:
        database = type(instance)._meta.database
        read = bound.hget if kind == "hfield" else bound.get

        def compare_and_clear(pipeline: Any) -> None:
            current = read()
            pipeline.multi()
            if current == pk:
                bound.delete()

        database.transaction(compare_and_clear, bound)


def clear_sources(field: Any, pk: str) -> int:
    """The deleter's step, for one related field in another slot than its target: clear
    the pointers to the deleted ``pk`` of every instance the field's pointer index lists
    for it; how many instances were touched."""
    from django_limpyd.exceptions import DoesNotExist

    source_model = field.model
    if source_model._meta.database.active_pipeline() is not None:
        return 0  # a delete queued in a pipeline: left to limpyd_index check --repair
    base = field.pointer_index().storage_base
    touched = 0
    for source in sorted(source_model._meta.database.connection.smembers(base + pk)):
        try:
            clear_pointer(source_model.lazy_connect(source), field.name, pk)
        except DoesNotExist:
            continue  # deleted meanwhile, with its pointers
        touched += 1
    return touched
