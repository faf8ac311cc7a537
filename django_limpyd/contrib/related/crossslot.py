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

**Sharded models** (``shards = n``, :mod:`django_limpyd.sharding`): each shard has its
own hash tag, so a related field to or from a sharded model always follows these
steps, on a Redis Cluster and on one server alike. The existence of a target of a
sharded model is read in its shard; a related field of a sharded model is one field
per shard (each with its pointer index in its shard), so the deleter's step lists the
pointers of every shard (one ``SMEMBERS`` per shard, in one pipeline).

**One implementation, two transports**: each of these steps is written once, as a
generator (*steps*) yielding what to send (:class:`Command`, :class:`Pipeline`,
:class:`FunctionRead`, :class:`FieldWrite`, :class:`CompareAndClear`) and sent the
replies (an error is thrown into it); :func:`run` sends them on the sync client,
:func:`arun` on the async one (the same commands in the same round trips, the same
errors). The sync code calls :func:`precheck`, :func:`settle` and
:func:`clear_sources` as before; while the async API plans an operation
(:class:`~django_limpyd.aio.capture.Capture`), they hand their steps to the capture
instead, which runs the pre-checks before sending the operation and the other steps
after its reply (an async pipeline: the pre-checks when the write is queued, the rest
left to ``check --repair``, as a sync pipeline).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

from django_limpyd.client_cluster import is_cluster
from django_limpyd.exceptions import DoesNotExist
from django_limpyd.storage.compiler import key_hash_tag

__all__ = [
    "Command",
    "CompareAndClear",
    "FieldWrite",
    "FunctionRead",
    "Pipeline",
    "Steps",
    "arun",
    "clear_pointer",
    "clear_pointer_steps",
    "clear_sources",
    "clear_sources_steps",
    "crosses_slots",
    "existing",
    "existing_steps",
    "precheck",
    "precheck_steps",
    "run",
    "settle",
    "settle_steps",
    "sharded",
]


# -- what the steps yield ------------------------------------------------------------


class Command(NamedTuple):
    """redis-py's command method ``name(*args)``, on the client of ``model``'s database
    (``read``: its read client, a replica if it has some); the reply."""

    model: type
    name: str
    args: tuple
    read: bool = False


class Pipeline(NamedTuple):
    """``commands`` (``(name, args)``) in one pipeline without ``MULTI`` on the client of
    ``model``'s database; the list of replies."""

    model: type
    commands: list[tuple[str, tuple]]


class FunctionRead(NamedTuple):
    """The read-only ``operation`` of ``model``'s library (on a replica if the database
    has some, as :func:`~django_limpyd.storage.functions.call_read_only`)."""

    model: type
    operation: str
    keys: list[Any]
    args: list[Any]


class FieldWrite(NamedTuple):
    """The command ``name(*args)`` of the bound field ``field`` (its async twin
    ``a<name>`` on the async transport): atomic with its index entries."""

    field: Any
    name: str
    args: tuple


class CompareAndClear(NamedTuple):
    """A ``WATCH`` transaction deleting the value of the bound single-value ``field``
    if it still is ``pk`` (``database.transaction`` / ``atransaction``)."""

    field: Any
    pk: str


#: yields the items above, is sent each one's reply (or thrown its error), returns the
#: result
Steps = Generator[Any, Any, Any]


# -- the drivers -------------------------------------------------------------------------


def run(steps: Steps) -> Any:
    """The result of ``steps``, each item sent on the sync client."""
    reply: Any = None
    error: Exception | None = None
    while True:
        try:
            item = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            reply = _send(item)
        except Exception as exc:  # thrown into the steps (a source deleted meanwhile)
            error = exc


async def arun(steps: Steps) -> Any:
    """:func:`run` on the async client (each item awaited)."""
    reply: Any = None
    error: Exception | None = None
    while True:
        try:
            item = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            reply = await _asend(item)
        except Exception as exc:
            error = exc


def _send(item: Any) -> Any:
    if isinstance(item, FieldWrite):
        return getattr(item.field, item.name)(*item.args)
    if isinstance(item, CompareAndClear):
        return _compare_and_clear(item.field, item.pk)
    meta = item.model._meta
    database = meta.database
    if isinstance(item, Command):
        client = database.read_connection if item.read else database.connection
        return getattr(client, item.name)(*item.args)
    if isinstance(item, FunctionRead):
        from django_limpyd.storage import functions

        return functions.call_read_only(
            database.read_connection,
            database.connection,
            meta.library,
            item.operation,
            item.keys,
            item.args,
        )
    pipe = database.connection.pipeline(transaction=False)
    for name, args in item.commands:
        getattr(pipe, name)(*args)
    return pipe.execute()


async def _asend(item: Any) -> Any:
    from django_limpyd.aio.connections import get_client, get_read_client

    if isinstance(item, FieldWrite):
        return await getattr(item.field, "a" + item.name)(*item.args)
    if isinstance(item, CompareAndClear):
        return await _acompare_and_clear(item.field, item.pk)
    meta = item.model._meta
    database = meta.database
    if isinstance(item, Command):
        client = get_read_client(database) if item.read else get_client(database)
        return await getattr(client, item.name)(*item.args)
    if isinstance(item, FunctionRead):
        from django_limpyd.aio.functions import acall_read_only

        return await acall_read_only(
            get_read_client(database),
            get_client(database),
            meta.library,
            item.operation,
            item.keys,
            item.args,
        )
    pipe = get_client(database).pipeline(transaction=False)
    for name, args in item.commands:
        getattr(pipe, name)(*args)
    return await pipe.execute()


def _compare_and_clear(bound: Any, pk: str) -> Any:
    read = bound.hget if bound.storage_type == "hfield" else bound.get

    def compare_and_clear(pipeline: Any) -> None:
        current = read()
        pipeline.multi()
        if current == pk:
            bound.delete()

    return bound.model._meta.database.transaction(compare_and_clear, bound)


async def _acompare_and_clear(bound: Any, pk: str) -> Any:
    read = bound.ahget if bound.storage_type == "hfield" else bound.aget

    async def compare_and_clear(pipeline: Any) -> None:
        current = await read()
        pipeline.multi()
        if current == pk:
            await bound.adelete()

    return await bound.model._meta.database.atransaction(compare_and_clear, bound)


def _deferring(database: Any) -> Any:
    """The async API's capture planning an operation on ``database`` (it runs the steps
    handed to it: :meth:`~django_limpyd.aio.capture.Capture.defer_steps`), else None."""
    active = database.active_pipeline()
    return active if getattr(active, "defers_steps", False) else None


# -- the steps -----------------------------------------------------------------------------


def _tag(model: type) -> str:
    return key_hash_tag(model._meta.keys.prefix)


def sharded(model: type) -> bool:
    """True for a sharded model and for its shard models."""
    return model._meta.shards is not None


def crosses_slots(model: type, other: type) -> bool:
    """True if ``model`` and ``other`` are on a Redis Cluster, in different slots; always
    True if one of them is sharded (its shards have their own hash tags)."""
    if sharded(model) or sharded(other):
        return True
    if _tag(model) == _tag(other):
        return False
    try:
        return is_cluster(model._meta.database.connection)
    except Exception:  # no database yet: decided again at the first write
        return False


def existing_steps(target: type, pks: list[str]) -> Steps:
    """Steps: whether each pk is an instance of ``target``: one ``ZMSCORE``; of a sharded
    model, in its shard (as ``_pks_exist``: one read per shard holding some of them;
    while it is resharded, in the old layout first, then in the new one)."""
    meta = target._meta
    if not meta.shard_models:
        scores = yield Command(target, "zmscore", (meta.keys.pks, pks))
        return [score is not None for score in scores]
    from django_limpyd.sharding.routing import pks_exist_steps

    return (yield from pks_exist_steps(target, pks, _in_shard))


def _in_shard(shard: type, pks: list[str]) -> Steps:
    """``shard._pks_exist(pks)`` as steps (the same commands): in its pks, and for a
    model with expiry, before its deadline."""
    meta = shard._meta
    if meta.expirable:
        from django_limpyd.model.expiry import CHUNK

        left: list[int] = []
        for start in range(0, len(pks), CHUNK):
            reply = yield FunctionRead(
                shard, "deadlines", [meta.keys.pks], pks[start : start + CHUNK]
            )
            left += [int(ms) for ms in reply]
        return [ms != -2 for ms in left]
    if len(pks) == 1:
        score = yield Command(shard, "zscore", (meta.keys.pks, pks[0]), read=True)
        return [score is not None]
    scores = yield Command(shard, "zmscore", (meta.keys.pks, pks), read=True)
    return [score is not None for score in scores]


def existing(target: type, pks: list[str]) -> list[bool]:
    """Whether each pk is an instance of ``target`` (in its shard for a sharded model):
    one ``ZMSCORE`` (one per shard holding some of them)."""
    return run(existing_steps(target, pks))


def _missing_steps(target: type, pks: list[str]) -> Steps:
    if not pks:
        return []
    found = yield from existing_steps(target, pks)
    return [pk for pk, there in zip(pks, found, strict=True) if not there]


def precheck_steps(field: Any, pks: list[str]) -> Steps:
    """Steps of :func:`precheck`."""
    target = field.related_model
    missing = yield from _missing_steps(target, [pk for pk in pks if pk])
    if missing:
        raise target.DoesNotExist(
            f"{field.describe()} cannot point to {target.__name__} {missing[0]!r}: it does "
            "not exist; nothing was written."
        )


def precheck(field: Any, pks: list[str]) -> None:
    """Step 1: refuse (``<Target>.DoesNotExist``) a write pointing to a missing target.
    Planned by the async API: run by its capture before the write is sent."""
    capture = _deferring(field.model._meta.database)
    if capture is not None:
        capture.defer_steps(precheck_steps(field, pks), before=True)
        return
    run(precheck_steps(field, pks))


def settle_steps(instance: Any, field_name: str, pks: list[str]) -> Steps:
    """Steps of :func:`settle`: the pointers cleared; how many."""
    field = type(instance)._meta.get_field(field_name)
    missing = yield from _missing_steps(field.related_model, [pk for pk in pks if pk])
    for pk in missing:
        yield from clear_pointer_steps(instance, field_name, pk)
    return len(missing)


def settle(instance: Any, field_name: str, pks: list[str]) -> None:
    """Step 3: clear the pointers of ``instance.<field_name>`` to targets among ``pks``
    deleted since step 1. Inside a pipeline (whose writes are sent later) it is left to
    ``limpyd_index check --repair``; planned by the async API: run by its capture after
    the write."""
    database = type(instance)._meta.database
    capture = _deferring(database)
    if capture is not None:
        capture.defer_steps(settle_steps(instance, field_name, pks), before=False)
        return
    if database.active_pipeline() is not None:
        return
    run(settle_steps(instance, field_name, pks))


def clear_pointer_steps(instance: Any, field_name: str, pk: str) -> Steps:
    """Steps of :func:`clear_pointer`."""
    bound = getattr(instance, field_name)
    kind = bound.storage_type
    if kind == "set":
        yield FieldWrite(bound, "srem", (pk,))
    elif kind == "zset":
        yield FieldWrite(bound, "zrem", (pk,))
    elif kind == "list":
        yield FieldWrite(bound, "lrem", (0, pk))
    else:
        yield CompareAndClear(bound, pk)


def clear_pointer(instance: Any, field_name: str, pk: str) -> None:
    """Remove ``pk`` from ``instance.<field_name>`` through the field's own writes
    (index entries follow); a single value only if it still is ``pk``."""
    run(clear_pointer_steps(instance, field_name, pk))


def clear_sources_steps(field: Any, pk: str) -> Steps:
    """Steps of :func:`clear_sources`."""
    source_model = field.model
    if source_model._meta.shard_models:  # the field of each shard: one pipeline
        shard_fields = [
            shard._meta.get_field(field.name) for shard in source_model._meta.shard_models
        ]
        replies = yield Pipeline(
            source_model,
            [
                ("smembers", (shard_field.pointer_index().storage_base + pk,))
                for shard_field in shard_fields
            ],
        )
        listed = list(zip(shard_fields, replies, strict=True))
    else:
        base = field.pointer_index().storage_base
        listed = [(field, (yield Command(source_model, "smembers", (base + pk,))))]
    touched = 0
    for source_field, sources in listed:
        for source in sorted(sources):
            try:
                yield from clear_pointer_steps(
                    source_field.model.lazy_connect(source), field.name, pk
                )
            except DoesNotExist:
                continue  # deleted meanwhile, with its pointers
            touched += 1
    return touched


def clear_sources(field: Any, pk: str) -> int:
    """The deleter's step, for one related field in another slot than its target: clear
    the pointers to the deleted ``pk`` of every instance the field's pointer index lists
    for it; how many instances were touched. Planned by the async API: run by its
    capture after the delete (0 returned meanwhile)."""
    database = field.model._meta.database
    capture = _deferring(database)
    if capture is not None:
        capture.defer_steps(clear_sources_steps(field, pk), before=False)
        return 0
    if database.active_pipeline() is not None:
        return 0  # a delete queued in a pipeline: left to limpyd_index check --repair
    return run(clear_sources_steps(field, pk))
