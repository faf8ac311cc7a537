"""``SortedSetField``: a Redis sorted set."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields.base import MultiValuesField
from django_limpyd.fields.commands import install_commands
from django_limpyd.fields.sorting import SortableMixin
from django_limpyd.storage.values import to_score_pairs

__all__ = ["SortedSetField"]

#: keywords of zadd() that are flags, not members (as in limpyd)
_ZADD_FLAGS = ("ch", "nx", "xx", "incr", "gt", "lt")


@install_commands(
    read=(
        "zcard", "zcount", "zlexcount", "zrange", "zrangebylex", "zrangebyscore", "zrank",
        "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscore",
    ),
    write=(
        "zadd", "zincrby", "zpopmax", "zpopmin", "zrem", "zremrangebylex", "zremrangebyrank",
        "zremrangebyscore",
    ),
)  # fmt: skip
class SortedSetField(SortableMixin, MultiValuesField):
    """Unique strings ordered by a score (each member is indexed when indexable)."""

    storage_type = "zset"
    proxy_getter = "zmembers"
    proxy_setter = "zadd"
    extra_getters = ("zmembers", "zscan")

    def zmembers(self) -> list[str]:
        """Every member, by increasing score (``ZRANGE 0 -1``)."""
        return self.zrange(0, -1)

    def prepare_value(self, value: Any) -> list[list[str]]:
        """A ``{member: score}`` mapping given to the constructor."""
        return to_score_pairs(value, self.describe())

    def zadd(self, *args: Any, **kwargs: Any) -> Any:
        """Add members with their scores, in limpyd's forms:

        - ``zadd({"a": 1, "b": 2.5})``, ``zadd({"a": 1}, True)`` (``ch`` second),
          ``zadd(mapping={"a": 1}, ch=True)``: a mapping ``{member: score}``;
        - ``zadd(a=1, b=2.5)``, ``zadd(a=1, ch=True)``: members as keyword arguments,
          where ``ch``, ``nx``, ``xx``, ``incr`` (and ``gt``, ``lt``) are flags.

        Only the ``ch`` flag is supported (the others are an ImplementationError).
        Mixing forms (a mapping and member keywords, a mapping given twice, more than
        two positional arguments, something else than a mapping) is a ``TypeError``.
        Returns the number of members added (or changed, with ``ch``).
        """
        where = f"{self.describe()}.zadd()"
        flags = {name: kwargs.pop(name) for name in _ZADD_FLAGS if name in kwargs}
        if args or "mapping" in kwargs:
            if len(args) > 2:
                raise TypeError(f"{where} takes a mapping and ch, got {len(args)} arguments.")
            if args and "mapping" in kwargs:
                raise TypeError(f"{where} got the mapping twice (positional and mapping=).")
            if len(args) == 2:
                if "ch" in flags:
                    raise TypeError(f"{where} got ch twice (positional and ch=).")
                flags["ch"] = args[1]
            mapping = args[0] if args else kwargs.pop("mapping")
            if kwargs:
                raise TypeError(
                    f"{where} got a mapping and member keywords ({', '.join(sorted(kwargs))}): "
                    "give the members in one form only."
                )
            if not isinstance(mapping, Mapping):
                raise TypeError(
                    f"{where} takes a mapping {{member: score}}, got {type(mapping).__name__}."
                )
        else:
            mapping = kwargs
        refused = sorted(name for name, value in flags.items() if name != "ch" and value)
        if refused:
            raise ImplementationError(f"{where}: {', '.join(refused)} not supported (only ch=).")
        if not mapping:
            raise InvalidValue(f"{where} needs at least one member.")
        pairs = self.prepare_value(dict(mapping))
        return self._write(
            "zadd", {member: score for member, score in pairs}, ch=bool(flags.get("ch"))
        )

    def zscan(
        self, match: str | None = None, count: int | None = None
    ) -> Iterator[tuple[str, float]]:
        """Iterate over ``(member, score)`` with ZSCAN (cursor handled)."""
        return self._read_now("zscan_iter", match=match, count=count)
