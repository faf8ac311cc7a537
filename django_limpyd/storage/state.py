"""Reading the stored values of fields in bulk (pipelines), as indexes see them.

Used by index rebuilds and consistency checks, chunk by chunk; the write
functions have the same logic for single writes (``snapshot``/``indexed_values``
in ``lua/core.lua``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "hash_entry_token",
    "indexed_raw_values",
    "iter_pk_chunks",
    "queue_read",
    "read_values",
]


def hash_entry_token(key: str, value: str) -> str:
    """How a HashField entry is indexed: ``"<bytes of key>:key:value"`` (the byte
    length, as Lua's ``#`` counts it in ``indexed_values``, ``lua/core.lua``)."""
    return f"{len(key.encode())}:{key}:{value}"


def queue_key_read(pipe: Any, storage_type: str, key: str, scores: bool = False) -> None:
    """Queue on ``pipe`` the read of the whole value at ``key``, a field's key of
    ``storage_type`` (``string``, ``set``, ``list``, ``zset``, ``hash``); a sorted
    set's members come with their scores when ``scores``."""
    if storage_type == "string":
        pipe.get(key)
    elif storage_type == "set":
        pipe.smembers(key)
    elif storage_type == "list":
        pipe.lrange(key, 0, -1)
    elif storage_type == "zset":
        pipe.zrange(key, 0, -1, withscores=scores)
    elif storage_type == "hash":
        pipe.hgetall(key)
    else:
        raise ValueError(f"No key of its own for fields of type {storage_type!r}.")


def queue_read(pipe: Any, field: Any, pk: str) -> None:
    """Queue on ``pipe`` the read of ``field``'s whole value for instance ``pk``."""
    keys = field.model._meta.keys
    kind = field.storage_type
    if kind == "hfield":
        pipe.hget(keys.instance_hash(pk), field.name)
        return
    if kind not in ("string", "set", "list", "zset", "hash"):
        raise ValueError(f"{field.describe()} has no stored value to read")
    queue_key_read(pipe, kind, keys.field(field.name, pk))


def indexed_raw_values(field: Any, result: Any) -> list[str]:
    """The distinct raw values an index sees in a result read by :func:`queue_read`."""
    if result is None:
        return []
    kind = field.storage_type
    if kind in ("string", "hfield"):
        return [result]
    if kind == "hash":
        return [hash_entry_token(k, v) for k, v in result.items()]
    return list(dict.fromkeys(result))


def iter_pk_chunks(model: type, chunk_size: int) -> Iterator[list[str]]:
    """The model's pks, ``chunk_size`` at a time (SSCAN: bounded memory)."""
    connection = model._meta.database.connection
    chunk: list[str] = []
    for pk, _score in connection.zscan_iter(model._meta.keys.pks, count=chunk_size):
        chunk.append(pk)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_values(fields: Iterable[Any], pks: list[str]) -> dict[str, dict[str, list[str]]]:
    """``{field name: {pk: raw values}}`` for these pks, in one round trip."""
    fields = list(fields)
    if not fields or not pks:
        return {field.name: {} for field in fields}
    pipe = fields[0].model._meta.database.connection.pipeline(transaction=False)
    for field in fields:
        for pk in pks:
            queue_read(pipe, field, pk)
    results = iter(pipe.execute())
    return {
        field.name: {pk: indexed_raw_values(field, next(results)) for pk in pks} for field in fields
    }
