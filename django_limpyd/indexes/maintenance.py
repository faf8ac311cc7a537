"""Clearing and rebuilding indexes in bounded memory (SCAN and chunks)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django_limpyd.storage.state import iter_pk_chunks, read_values

__all__ = ["chunks", "clear_index", "expected_entries", "rebuild_index"]


def chunks(iterable: Any, size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items of ``iterable``."""
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def clear_index(index: Any, chunk_size: int = 1000) -> int:
    """Delete every key of ``index``; the number of keys deleted."""
    connection = index.field.model._meta.database.connection
    base = index.storage_base
    if index.kind != "eq":
        return connection.delete(base)
    keys = index.field.model._meta.keys
    deleted = 0
    for chunk in chunks(
        connection.scan_iter(match=keys.pattern_after(base), count=chunk_size), chunk_size
    ):
        deleted += connection.delete(*chunk)
    return deleted


def expected_entries(index: Any, values: dict[str, list[str]]) -> Iterator[tuple[str, str, Any]]:
    """The ``(key, member, score)`` entries ``index`` needs for ``{pk: raw values}``."""
    for pk, raws in values.items():
        indexed = {index.transform_value(raw) for raw in raws} - {None}
        for value in indexed:
            yield index.entry(pk, value)


def rebuild_index(index: Any, chunk_size: int = 1000) -> int:
    """Clear ``index`` then index every instance, chunk by chunk; instances read."""
    clear_index(index, chunk_size)
    model = index.field.model
    connection = model._meta.database.connection
    count = 0
    for pks in iter_pk_chunks(model, chunk_size):
        values = read_values([index.field], pks)[index.field.name]
        pipe = connection.pipeline(transaction=False)
        for key, member, score in expected_entries(index, values):
            if score is None:
                pipe.sadd(key, member)
            else:
                pipe.zadd(key, {member: score})
        pipe.execute()
        count += len(pks)
    return count
