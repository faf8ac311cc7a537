"""``StringField``: a Redis string per instance."""

from __future__ import annotations

from typing import Any

from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields.base import SingleValueField
from django_limpyd.fields.commands import install_commands

__all__ = ["StringField"]


@install_commands(
    read=("bitcount", "bitpos", "get", "getbit", "getrange", "strlen"),
    write=(
        "append", "decr", "decrby", "getset", "incr", "incrby", "incrbyfloat", "set",
        "setbit", "setnx", "setex", "psetex", "setrange",
    ),
)  # fmt: skip
class StringField(SingleValueField):
    """A string (also usable as an integer, a float or bits) stored in its own key."""

    storage_type = "string"
    proxy_getter = "get"
    proxy_setter = "set"

    def set(
        self, value: Any, ex: Any = None, px: Any = None, nx: bool = False, xx: bool = False
    ) -> Any:
        """Redis ``SET``. ``ex``/``px`` only on non-indexable fields; ``nx``/``xx`` refused
        (use :meth:`setnx`)."""
        if nx or xx:
            raise ImplementationError(
                f"{self.describe()}.set(): nx/xx are not supported; use setnx() instead."
            )
        if (ex is not None or px is not None) and self.indexable:
            raise ImplementationError(
                f"{self.describe()}.set(): ex/px would let an indexed value expire."
            )
        value = self.prepare_value(value)
        return self._write("set", value, ex=ex, px=px)

    def setex(self, time: Any, value: Any) -> Any:
        """Redis ``SETEX`` (refused on indexable fields)."""
        self._check_expiry_allowed()
        return self._write("setex", time, self.prepare_value(value))

    def psetex(self, time_ms: Any, value: Any) -> Any:
        """Redis ``PSETEX`` (refused on indexable fields)."""
        self._check_expiry_allowed()
        return self._write("psetex", time_ms, self.prepare_value(value))
