"""``HashField``: a dict stored in its own Redis hash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django_limpyd.exceptions import InvalidValue
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

    def hset(self, key: Any, value: Any) -> Any:
        """Redis ``HSET`` of one entry."""
        where = self.describe()
        return self._write("hset", to_redis_string(key, where), to_redis_string(value, where))

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
