"""``SortedSetField``: a Redis sorted set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields.base import MultiValuesField
from django_limpyd.fields.commands import install_commands
from django_limpyd.fields.sorting import SortableMixin
from django_limpyd.storage.values import to_score_pairs

__all__ = ["SortedSetField"]


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

    def prepare_value(self, value: Any) -> list[list[str]]:
        """A ``{member: score}`` mapping given to the constructor."""
        return to_score_pairs(value, self.describe())

    def zadd(self, mapping: dict[str, Any] | None = None, ch: bool = False, **kwargs: Any) -> Any:
        """Add members with their scores: ``zadd({"a": 1})`` or ``zadd(a=1, b=2.5)``.

        Only the ``ch`` flag is supported (``nx``/``xx``/``gt``/``lt``/``incr`` given
        with a mapping are refused; without a mapping every keyword is a member).
        Returns the number of members added (or changed, with ``ch``).
        """
        refused = sorted(set(kwargs) & {"nx", "xx", "gt", "lt", "incr"})
        if refused and mapping is not None:
            raise ImplementationError(
                f"{self.describe()}.zadd(): {', '.join(refused)} not supported (only ch=)."
            )
        values = {**(mapping or {}), **kwargs}
        if not values:
            raise InvalidValue(f"{self.describe()}.zadd() needs at least one member.")
        pairs = self.prepare_value(values)
        return self._write("zadd", {member: score for member, score in pairs}, ch=ch)

    def zscan(
        self, match: str | None = None, count: int | None = None
    ) -> Iterator[tuple[str, float]]:
        """Iterate over ``(member, score)`` with ZSCAN (cursor handled)."""
        return self._read_now("zscan_iter", match=match, count=count)
