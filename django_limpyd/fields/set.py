"""``SetField``: a Redis set."""

from __future__ import annotations

from collections.abc import Iterator

from django_limpyd.fields.base import MultiValuesField
from django_limpyd.fields.commands import install_commands
from django_limpyd.fields.sorting import SortableMixin

__all__ = ["SetField"]


@install_commands(
    read=("scard", "sismember", "smembers", "srandmember"),
    write=("sadd", "spop", "srem"),
)
class SetField(SortableMixin, MultiValuesField):
    """An unordered set of unique strings (each member is indexed when indexable)."""

    storage_type = "set"
    proxy_getter = "smembers"
    proxy_setter = "sadd"
    extra_getters = ("sscan",)

    def sscan(self, match: str | None = None, count: int | None = None) -> Iterator[str]:
        """Iterate over the members with SSCAN (cursor handled)."""
        return self._read_now("sscan_iter", match=match, count=count)
