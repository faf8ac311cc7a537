"""Clearing and rebuilding indexes in bounded memory (SCAN and chunks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from django_limpyd.storage.state import iter_pk_chunks, read_values

__all__ = [
    "chunks",
    "clear_index",
    "expected_entries",
    "index_fields",
    "keyed_by_value",
    "rebuild_index",
]


def chunks(iterable: Any, size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items of ``iterable``."""
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def keyed_by_value(index: Any) -> bool:
    """True if ``index`` keeps one key per indexed value (``storage_base`` + value: a set
    for kinds eq and with, a sorted set for scored); False if its only key is
    ``storage_base`` (text, num)."""
    return index.kind in ("eq", "scored", "with")


def index_fields(index: Any) -> list[Any]:
    """The fields whose values make the entries of ``index``: its own, then ``deps``."""
    meta = index.field.model._meta
    return [index.field] + [meta.get_field(name) for name in index.deps]


def clear_index(index: Any, chunk_size: int = 1000) -> int:
    """Delete every key of ``index``; the number of keys deleted."""
    connection = index.field.model._meta.database.connection
    base = index.storage_base
    if not keyed_by_value(index):
        return connection.delete(base)
    keys = index.field.model._meta.keys
    deleted = 0
    for chunk in chunks(
        connection.scan_iter(match=keys.pattern_after(base), count=chunk_size), chunk_size
    ):
        deleted += connection.delete(*chunk)
    return deleted


def expected_entries(
    index: Any,
    values: dict[str, list[str]],
    deps: dict[str, dict[str, list[str]]] | None = None,
) -> Iterator[tuple[str, str, Any]]:
    """The ``(key, member, score)`` entries ``index`` needs for ``{pk: raw values}``.

    An index made with other fields' values (``deps``) gets them as ``deps``
    (``{field name: {pk: raw values}}``) and computes its entries with
    ``index.entries_for(pk, {field name: raw values})``.
    """
    for pk, raws in values.items():
        if index.deps:
            by_field = {name: (deps or {}).get(name, {}).get(pk, []) for name in index.deps}
            yield from index.entries_for(pk, {**by_field, index.field.name: raws})
            continue
        indexed = {index.transform_value(raw) for raw in raws} - {None}
        for value in indexed:
            yield index.entry(pk, value)


def rebuild_index(
    index: Any, chunk_size: int = 1000, advance: Callable[[int], None] | None = None
) -> int:
    """Clear ``index`` then index every instance, chunk by chunk; instances read.

    ``advance(n)`` is called after each chunk of ``n`` instances (progress).
    """
    clear_index(index, chunk_size)
    model = index.field.model
    connection = model._meta.database.connection
    count = 0
    for pks in iter_pk_chunks(model, chunk_size):
        values = read_values(index_fields(index), pks)
        pipe = connection.pipeline(transaction=False)
        for key, member, score in expected_entries(index, values[index.field.name], values):
            if score is None:
                pipe.sadd(key, member)
            else:
                pipe.zadd(key, {member: score})
        pipe.execute()
        count += len(pks)
        if advance is not None:
            advance(len(pks))
    return count
