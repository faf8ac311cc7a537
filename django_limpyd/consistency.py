"""``consistency_check(model)``: every difference between a model's data and its indexes.

Reads the data of every instance (chunk by chunk), computes the entries each
index should hold (transforms included) and compares them with what Redis
holds. Also reports keys of instances that are not in the model's set of pks
(orphans) and, for related fields, dangling pointers: values naming a target pk
that does not exist (see :mod:`django_limpyd.contrib.related.integrity`). Used
by tests after concurrent writes, and by ``limpyd_index check``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_limpyd.indexes.maintenance import (
    chunks,
    expected_entries,
    index_fields,
    keyed_by_value,
)
from django_limpyd.storage.state import iter_pk_chunks, read_values

__all__ = ["consistency_check", "index_differences"]

#: called with the number of instances read, after each chunk (progress)
Advance = Callable[[int], None]


def _expected(index: Any, chunk_size: int, advance: Advance | None) -> dict[tuple[str, str], Any]:
    entries: dict[tuple[str, str], Any] = {}
    for pks in iter_pk_chunks(index.field.model, chunk_size):
        values = read_values(index_fields(index), pks)
        for key, member, score in expected_entries(index, values[index.field.name], values):
            entries[(key, member)] = score
        if advance is not None:
            advance(len(pks))
    return entries


def _actual(index: Any, chunk_size: int) -> dict[tuple[str, str], Any]:
    connection = index.field.model._meta.database.connection
    base = index.storage_base
    if not keyed_by_value(index):
        return {(base, m): s for m, s in connection.zscan_iter(base, count=chunk_size)}
    pattern = index.field.model._meta.keys.pattern_after(base)
    entries: dict[tuple[str, str], Any] = {}
    keys = connection.scan_iter(match=pattern, count=chunk_size)
    for chunk in chunks(keys, chunk_size):  # one round trip per chunk of index keys
        pipe = connection.pipeline(transaction=False)
        for key in chunk:
            if index.kind == "scored":  # one sorted set per value
                pipe.zrange(key, 0, -1, withscores=True)
            else:
                pipe.smembers(key)
        for key, members in zip(chunk, pipe.execute(), strict=True):
            if index.kind == "scored":
                entries.update({(key, pk): score for pk, score in members})
            else:
                entries.update({(key, pk): None for pk in members})
    return entries


def consistency_check(
    model: type, chunk_size: int = 1000, advance: Advance | None = None
) -> list[str]:
    """Every mismatch between ``model``'s data and its index entries, every orphan key,
    every dangling pointer of its related fields, and an AutoPK counter below the pks
    in use (empty: consistent).

    ``advance(n)`` is called after each chunk of ``n`` instances read (progress: the
    instances are read once per index and once per related field).
    """
    from django_limpyd.contrib.related.integrity import find_dangling
    from django_limpyd.pk_counter import counter_problem

    if model._meta.shard_models:  # a sharded model: each of its shards
        from django_limpyd.sharding.unique import reservation_problems

        problems = [
            problem
            for shard in model._meta.stored_models  # while resharded: the old layout too
            for problem in consistency_check(shard, chunk_size, advance)
        ]
        return problems + reservation_problems(model)
    problems = index_differences(model, chunk_size, advance)
    problems += [pointer.message for pointer in find_dangling(model, chunk_size, advance)]
    counter = counter_problem(model)
    return [*problems, counter] if counter else problems


def index_differences(
    model: type, chunk_size: int = 1000, advance: Advance | None = None
) -> list[str]:
    """Every mismatch between ``model``'s data and its index entries, and every orphan
    key (empty: consistent)."""
    meta = model._meta
    connection = meta.database.connection
    problems: list[str] = []
    for field in meta.data_fields:
        for index in field.indexes:
            expected, actual = _expected(index, chunk_size, advance), _actual(index, chunk_size)
            where = f"{meta.name}.{field.name} {type(index).__name__}"
            for key, member in sorted(set(expected) - set(actual)):
                problems.append(f"{where}: missing entry {member!r} in {key!r}")
            for key, member in sorted(set(actual) - set(expected)):
                problems.append(f"{where}: extra entry {member!r} in {key!r}")
            for entry in sorted(set(expected) & set(actual)):
                if expected[entry] != actual[entry]:
                    problems.append(
                        f"{where}: entry {entry[1]!r} in {entry[0]!r} has score "
                        f"{actual[entry]!r}, expected {expected[entry]!r}"
                    )
    prefixes = [meta.keys.instance_hash_prefix] + [
        meta.keys.field_prefix(field.name)
        for field in meta.data_fields
        if field.storage_type != "hfield"
    ]
    for prefix in prefixes:
        keys = connection.scan_iter(match=meta.keys.pattern_after(prefix), count=chunk_size)
        for chunk in chunks(keys, chunk_size):
            present = connection.zmscore(meta.keys.pks, [key[len(prefix) :] for key in chunk])
            for key, score in zip(chunk, present, strict=True):
                if score is None:
                    problems.append(f"{meta.name}: orphan key {key!r} (pk not in the model)")
    if meta.expirable:  # every deadline is an instance's (docs/orm/expiry.rst)
        deadlines = (pk for pk, _at in connection.zscan_iter(meta.keys.expiry, count=chunk_size))
        for chunk in chunks(deadlines, chunk_size):
            present = connection.zmscore(meta.keys.pks, chunk)
            for pk, score in zip(chunk, present, strict=True):
                if score is None:
                    problems.append(
                        f"{meta.name}: orphan deadline of pk {pk!r} in {meta.keys.expiry!r}"
                    )
    return problems
