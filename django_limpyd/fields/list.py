"""``ListField``: a Redis list."""

from __future__ import annotations

from typing import Any

from django_limpyd.fields.base import MultiValuesField
from django_limpyd.fields.commands import install_commands
from django_limpyd.fields.sorting import SortableMixin

__all__ = ["ListField"]


@install_commands(
    read=("lindex", "llen", "lrange"),
    write=(
        "linsert", "lpop", "lpush", "lpushx", "lrem", "lset", "ltrim", "rpop", "rpush", "rpushx",
    ),
)  # fmt: skip
class ListField(SortableMixin, MultiValuesField):
    """An ordered list of strings (each distinct member is indexed when indexable)."""

    storage_type = "list"
    proxy_getter = "lmembers"
    proxy_setter = "rpush"
    extra_getters = ("lmembers", "lcontains", "lrank", "lcount")

    def lmembers(self) -> list[str]:
        """Every value of the list, in order (``LRANGE 0 -1``)."""
        return self.lrange(0, -1)

    def lcontains(self, value: Any) -> bool:
        """True if ``value`` is in the list (LPOS, computed by the server; sent at once
        even inside a pipeline)."""
        return self._read_now("lpos", value) is not None

    def lrank(self, value: Any) -> int | None:
        """The index of the first occurrence of ``value``, or ``None`` (LPOS)."""
        return self._read_now("lpos", value)

    def lcount(self, value: Any) -> int:
        """How many times ``value`` is in the list (LPOS ... COUNT 0)."""
        return len(self._read_now("lpos", value, count=0))
