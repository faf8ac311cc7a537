"""The work of ``manage.py limpyd_reshard``, and the count of a model being resharded.

See :mod:`django_limpyd.sharding.reshard` for the protocol. Every step here is
idempotent: the command can stop anywhere (or be killed) and run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from django_limpyd.collection.plan import dumps
from django_limpyd.exceptions import ImplementationError
from django_limpyd.sharding import reshard, scatter, unique
from django_limpyd.sharding.scatter import Call, Steps

__all__ = [
    "aresharding_count",
    "close_old_layout",
    "forget_layout",
    "left_in_old_layout",
    "move_batch",
    "move_batches",
    "move_reservations",
    "resharding_count",
    "resharding_count_steps",
    "run",
]

#: how many times a count is read again when it took longer than ``SETTLE``
COUNT_TRIES = 5


# -- counting while instances move ---------------------------------------------------


def _count_plan(collection: Any) -> Any:
    return collection._clone(_query=collection._query.unordered())._plan(count=True)


def _count_call(shard: type, plan: Any) -> Call:
    meta = shard._meta
    return Call(meta.library, "collection", [meta.keys.pks], [dumps(plan)])


def resharding_count_steps(collection: Any) -> Steps:
    """:func:`resharding_count`'s steps (see :mod:`django_limpyd.sharding.scatter`)."""
    meta = collection.model._meta
    shards = collection.shard_collections()
    old = [(c, _count_plan(c)) for c in shards if c.model._meta.layout == "old"]
    new = [(c, _count_plan(c)) for c in shards if c.model._meta.layout != "old"]
    # each old shard's moves and count read together (one transaction: the same instant)
    groups = [[item] for item in old] if meta.database.is_cluster else [old]
    total = 0
    for _attempt in range(COUNT_TRIES):
        start = time.monotonic()
        total, moving = 0, set()
        for group in groups:
            batch: list[Any] = []
            for shard_collection, plan in group:
                batch.append(("HKEYS", shard_collection.model._meta.keys.moves))
                if plan is not None:
                    batch.append(_count_call(shard_collection.model, plan))
            replies = iter((yield batch, True, True))
            for _collection, plan in group:
                moving.update(pk for pk in next(replies) if pk != "")
                if plan is not None:
                    total += int(next(replies))
        batch, signs = [], []
        for shard_collection, plan in new:
            if plan is not None:
                batch.append(_count_call(shard_collection.model, plan))
                signs.append(1)
            held = [pk for pk in moving if meta.shard_model_of(pk) is shard_collection.model]
            if held:  # the moving instances already copied here, matching the filters
                both = _count_plan(shard_collection._filter({"pk__in": held}))
                if both is not None:
                    batch.append(_count_call(shard_collection.model, both))
                    signs.append(-1)
        replies = (yield batch, False, True) if batch else []
        total += sum(sign * int(reply) for sign, reply in zip(signs, replies, strict=True))
        if time.monotonic() - start < reshard.SETTLE:
            break
    return total


def resharding_count(collection: Any) -> int:
    """``len()`` of a collection of a model being resharded (see
    :mod:`django_limpyd.sharding.reshard`): the old shards' counts (with the pks being
    moved, read in the same transaction), then the new shards' counts less the moving
    instances they already hold; read again while that took more than ``SETTLE``."""
    return scatter.run(
        resharding_count_steps(collection), collection.model._meta.database.connection
    )


async def aresharding_count(collection: Any) -> int:
    """:func:`resharding_count` on the async transport (the same pipelines)."""
    from django_limpyd.aio.connections import get_client

    client = get_client(collection.model._meta.database)
    return await scatter.arun(resharding_count_steps(collection), client)


# -- the command's steps -------------------------------------------------------------


def _auto_pk(count: int, stride: int, offset: int) -> int:
    return (count - 1) * stride + offset + 1


def close_old_layout(model: type) -> int:
    """Step 0: no create may run in the old layout any more; each AutoPK counter of the
    new layout set past every pk of the old one, then the new shards ready. Returns the
    greatest old AutoPK (0 without AutoPK)."""
    meta = model._meta
    client = meta.database.connection
    for old in meta.previous_shard_models:
        client.hset(old._meta.keys.moves, "", "closed")
    top = 0
    if meta.pk_field.auto:
        for old in meta.previous_shard_models:
            keys = old._meta.keys
            counter = client.get(keys.max_pk)
            if counter is not None and int(counter) > 0:
                top = max(top, _auto_pk(int(counter), old._meta.shards, old._meta.shard))
            last = client.zrange(keys.pks, -1, -1, withscores=True)
            if last:
                top = max(top, int(last[0][1]))
        for new in meta.shard_models:
            keys, shard, stride = new._meta.keys, new._meta.shard, new._meta.shards
            needed = (top - shard - 1) // stride + 1 if top > shard else 0
            current = client.get(keys.max_pk)
            if current is None or int(current) < needed:
                client.set(keys.max_pk, needed)
    for new in meta.shard_models:
        client.set(new._meta.keys.ready, "1")
    return top


def left_in_old_layout(model: type) -> dict[type, int]:
    """How many instances each shard of the old layout still holds (one round trip)."""
    shards = model._meta.previous_shard_models
    pipe = model._meta.database.connection.pipeline(transaction=False)
    for old in shards:
        pipe.zcard(old._meta.keys.pks)
    return dict(zip(shards, pipe.execute(), strict=True))


def move_batch(model: type, old: type, size: int) -> int:
    """Move the first ``size`` instances of the old shard ``old`` to the new layout
    (fence, settle, copy, drop: see :mod:`django_limpyd.sharding.reshard`); how many."""
    return move_batches(model, [old], size)


def move_batches(model: type, olds: list[type], size: int) -> int:
    """:func:`move_batch` of each old shard of ``olds`` at once (one settle for all, the
    reads and copies in one pipeline each, one drop transaction per old shard)."""
    from django_limpyd.management.dumpload import _times_to_live, parse_object, read_instances
    from django_limpyd.model import writes

    meta = model._meta
    database = meta.database
    client = database.connection
    pipe = client.pipeline(transaction=False)
    for old in olds:
        pipe.zrange(old._meta.keys.pks, 0, size - 1)
    batches = [(old, pks) for old, pks in zip(olds, pipe.execute(), strict=True) if pks]
    if not batches:
        return 0
    pipe = client.pipeline(transaction=False)
    for old, pks in batches:  # 1 fence
        pipe.hset(old._meta.keys.moves, mapping=dict.fromkeys(pks, "moving"))
    pipe.execute()
    unique.crash_point("after_fence")
    time.sleep(reshard.SETTLE)  # 2 settle
    items = [item for old, pks in batches for item in read_instances(old, pks, meta.label_lower)]
    targets = {item["pk"]: meta.shard_model_of(item["pk"]) for item in items}
    there = _present(client, targets)
    parsed = [parse_object(position, item, model) for position, item in enumerate(items)]
    parsed = _times_to_live(database, [p for p in parsed if not there[p[1]]])
    moving = reshard._MOVING.set(True)
    reserving = unique._ACTIVE.set(True)
    try:
        if parsed:  # 3 copy
            with database.pipeline(transaction=False) as pipeline:
                for _model, pk, values, ttl in parsed:
                    writes.create(targets[pk](), pk, values, ttl)
                results = pipeline.execute(raise_on_error=False)
            for (_model, pk, _values, _ttl), result in zip(parsed, results, strict=True):
                if isinstance(result, Exception):
                    raise ImplementationError(
                        f"{meta.label} {pk!r} could not be copied to the new layout: {result}"
                    )
        unique.crash_point("after_copy")
        for old, pks in batches:  # 4 drop, in each old shard's slot
            with database.pipeline(transaction=True) as pipeline:
                database.command_connection.hdel(old._meta.keys.moves, *pks)
                for pk in pks:
                    writes.delete(old._connected(pk, checked=True))
                pipeline.execute()
    finally:
        unique._ACTIVE.reset(reserving)
        reshard._MOVING.reset(moving)
    return sum(len(pks) for _old, pks in batches)


def _present(client: Any, targets: dict[str, type]) -> dict[str, bool]:
    """Which pks are in their new shard already (a move resumed after its copy)."""
    pipe = client.pipeline(transaction=False)
    pks = list(targets)
    for pk in pks:
        pipe.zscore(targets[pk]._meta.keys.pks, pk)
    return {pk: score is not None for pk, score in zip(pks, pipe.execute(), strict=True)}


# -- reservations of unique values ------------------------------------------------------

#: KEYS[1] the new bucket; ARGV: value, state. The state copied there, unless it holds
#: another one (a write of the value in progress there)
_COPY = """
local there = redis.call('HGET', KEYS[1], ARGV[1])
if there and there ~= ARGV[2] then return 0 end
if not there then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


def _old_entries(model: type) -> Iterator[tuple[str, str, str, str]]:
    connection = model._meta.database.connection
    for field in unique.unique_fields(model._meta):
        for old in model._meta.previous_shard_models:
            key = old._meta.keys.reservations(field.name)
            for value, state in connection.hscan_iter(key, count=RESERVATIONS_CHUNK):
                yield key, field.name, value, state


def move_reservations(model: type, wait: float = 1.0) -> int:
    """Step 1: every reservation of the old layout's buckets moved to the new one's; a
    pending one left by a write still running is moved once that write settles it (or,
    still pending after ``wait`` seconds, resolved as ``limpyd_index check --repair``
    does). Returns how many were moved."""
    if not model._meta.has_unique:
        return 0
    moved = 0
    deadline = time.monotonic() + wait
    while True:
        pending, chunk = 0, []
        for key, name, value, state in _old_entries(model):
            if state.startswith("p:"):
                pending += 1
                if time.monotonic() < deadline:
                    continue
                state = unique.settle_entry(model, key, name, value, state, old=True)
                if not state:
                    continue
            chunk.append((key, name, value, state))
            if len(chunk) >= RESERVATIONS_CHUNK:
                moved += _copy_reservations(model, chunk)
                chunk = []
        moved += _copy_reservations(model, chunk)
        if not pending:
            return moved
        time.sleep(0.05)


#: reservations copied per round trip
RESERVATIONS_CHUNK = 500


def _copy_reservations(model: type, chunk: list[tuple[str, str, str, str]]) -> int:
    """Copy each ``(old bucket, field name, value, state)`` to the value's new bucket,
    then remove it from the old one (a pipeline each). A value released meanwhile (read
    above, then released in both buckets before the copy) has its copy removed."""
    if not chunk:
        return 0
    meta = model._meta
    connection = meta.database.connection
    pipe = connection.pipeline(transaction=False)
    news = [unique.reservation_key(model, name, value) for _key, name, value, _state in chunk]
    for new_key, (_key, _name, value, state) in zip(news, chunk, strict=True):
        unique._eval(pipe, _COPY, 1, new_key, value, state)
    copied = [
        (entry, new_key)
        for entry, new_key, reply in zip(chunk, news, pipe.execute(), strict=True)
        if reply
    ]
    pipe = connection.pipeline(transaction=False)
    for (key, _name, value, state), _new_key in copied:
        unique._eval(pipe, unique._SWAP, 1, key, value, state, "")
    confirmed = [(entry, key) for entry, key in copied if entry[3].startswith("c:")]
    for (_key, name, value, state), _new_key in confirmed:  # still held by its instance?
        pk = state[2:]
        pipe.sismember(unique._index_entry(meta.shard_model_of(pk), name, value), pk)
        old = meta.previous_shard_models[reshard.old_shard_of_pk(meta, pk)]
        pipe.sismember(unique._index_entry(old, name, value), pk)
    replies = pipe.execute()
    removed = sum(1 for reply in replies[: len(copied)] if reply)
    replies = replies[len(copied) :]
    pipe = connection.pipeline(transaction=False)
    stale = 0
    for position, ((_key, _name, value, state), new_key) in enumerate(confirmed):
        if not (replies[2 * position] or replies[2 * position + 1]):
            unique._eval(pipe, unique._SWAP, 1, new_key, value, state, "")
            stale += 1
    if stale:
        pipe.execute()
    return removed


def run(
    model: type, batch: int = 500, report: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Every step of ``limpyd_reshard`` on the sharded ``model`` (declared with
    ``resharding_from``): close the old layout, move the reservations, then the
    instances, ``batch`` at a time, until the old layout is empty. ``report(what,
    count)`` hears of each step (``"closed"`` with the greatest old AutoPK,
    ``"reservations"``, ``"moved"`` after each batch). Returns the counts."""
    if not model._meta.previous_shard_models:
        raise ImplementationError(f"{model._meta.label} is not being resharded.")
    report = report or (lambda what, count: None)
    top = close_old_layout(model)
    report("closed", top)
    reservations = move_reservations(model)
    report("reservations", reservations)
    moved = 0
    while True:
        shards = [shard for shard, count in left_in_old_layout(model).items() if count]
        if not shards:
            break
        count = move_batches(model, shards, batch)
        moved += count
        report("moved", count)
    return {"top": top, "reservations": reservations, "moved": moved}


def forget_layout(model: type, count: int) -> int:
    """After the model was deployed without ``resharding_from``: delete what its old
    layout of ``count`` shards left (its AutoPK counters, its moves marks) and the new
    shards' ``ready`` flags, once no instance is left there. How many keys were
    deleted; ``ImplementationError`` if the old layout still holds instances."""
    from django_limpyd.sharding.layout import shard_tag
    from django_limpyd.storage.keys import ModelKeys

    meta = model._meta
    if meta.previous_shard_models:
        raise ImplementationError(
            f"{meta.label} is still being resharded: deploy it without resharding_from first."
        )
    if not meta.shard_models or count == meta.shards or not 1 <= count <= 256:
        raise ImplementationError(
            f"{meta.label} has {meta.shards or 'no'} shards: there is no old layout of "
            f"{count} to forget."
        )
    tags = [shard_tag(meta.namespace, meta.name, s, count) for s in range(count)]
    olds = [ModelKeys(meta.namespace, meta.name, tag if count > 1 else None) for tag in tags]
    client = meta.database.connection
    held = sum(client.zcard(keys.pks) for keys in olds)
    if held:
        raise ImplementationError(
            f"{meta.label}: the old layout of {count} shards still holds {held} instances; "
            "nothing was deleted (is it the layout the data is in?)."
        )
    doomed = [key for keys in olds for key in (keys.moves, keys.max_pk)]
    doomed += [shard._meta.keys.ready for shard in meta.shard_models]
    return sum(client.delete(key) for key in doomed)
