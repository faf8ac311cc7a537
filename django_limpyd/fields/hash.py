"""``HashField``: a dict stored in its own Redis hash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields.base import MultiValuesField
from django_limpyd.fields.commands import install_commands
from django_limpyd.storage.values import to_redis_string, to_string_pairs

__all__ = ["HashField"]


@install_commands(
    read=("hget", "hgetall", "hmget", "hkeys", "hvals", "hexists", "hlen", "hstrlen"),
    write=("hdel", "hmset", "hset", "hsetnx", "hincrby", "hincrbyfloat"),
)
class HashField(MultiValuesField):
    """A dict of strings (each ``key: value`` entry is indexed when indexable)."""

    storage_type = "hash"
    proxy_getter = "hgetall"
    proxy_setter = "hmset"
    extra_getters = ("hscan",)

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("unique"):
            raise ImplementationError(
                "A HashField cannot be unique (as in limpyd); index it with indexable=True."
            )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> list[list[str]]:
        """A mapping given to the constructor, as ``[[key, value], ...]``."""
        return to_string_pairs(value, self.describe())

    def hmset(self, mapping: dict[str, Any] | None = None, **kwargs: Any) -> bool:
        """Set several entries at once, from a mapping and/or keyword arguments."""
        values = {**(mapping or {}), **kwargs}
        if not values:
            raise InvalidValue(f"{self.describe()}.hmset() needs at least one entry.")
        pairs = self.prepare_value(values)
        self._write("hset", mapping=dict(pairs))
        return True

    def hset(
        self,
        key: Any = None,
        value: Any = None,
        mapping: dict[str, Any] | None = None,
        items: list[Any] | None = None,
    ) -> Any:
        """Redis ``HSET``: one entry, and/or a ``mapping``, and/or ``items`` (a flat
        ``[key, value, ...]`` list), as redis-py takes them. Returns the number of
        entries added."""
        where = self.describe()
        entries: dict[str, str] = {}
        if key is not None:
            entries[to_redis_string(key, where)] = to_redis_string(value, where)
        if items:
            if len(items) % 2:
                raise InvalidValue(f"{where}.hset(): items must hold key, value pairs.")
            pairs = zip(items[::2], items[1::2], strict=True)
            entries.update(dict(self.prepare_value(dict(pairs))))
        if mapping:
            entries.update(dict(self.prepare_value(mapping)))
        if not entries:
            raise InvalidValue(f"{where}.hset() needs a key and value, a mapping or items.")
        return self._write("hset", mapping=entries)

    def hmget(self, *keys: Any) -> list[Any]:
        """Values of the given entries, in order (``None`` for missing ones)."""
        if len(keys) == 1 and isinstance(keys[0], (list, tuple)):
            keys = tuple(keys[0])
        return self._read("hmget", list(keys))

    def hscan(
        self, match: str | None = None, count: int | None = None
    ) -> Iterator[tuple[str, str]]:
        """Iterate over ``(key, value)`` entries with HSCAN (cursor handled)."""
        return self._read_now("hscan_iter", match=match, count=count)
