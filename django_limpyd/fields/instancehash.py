"""``InstanceHashField``: one entry of the instance's hash."""

from __future__ import annotations

from typing import Any

from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields.base import SingleValueField, _writes_module
from django_limpyd.fields.commands import install_commands

__all__ = ["InstanceHashField"]


@install_commands(
    read=("hget",),
    write=("hset", "hsetnx", "hincrby", "hincrbyfloat", "hdel"),
)
class InstanceHashField(SingleValueField):
    """A string stored as an entry (named like the field) of the instance's hash.

    Read and write several at once with the instance's ``hmget``/``hmset``.
    """

    storage_type = "hfield"
    allows_expiry = False
    expiry_refusal = (
        "its value is one entry of the instance's hash, and Redis only expires whole keys."
    )
    read_command = "hget"
    proxy_getter = "hget"
    proxy_setter = "hset"
    extra_modifiers = ("hdel",)

    @property
    def key(self) -> str:
        """The instance's hash (shared by every InstanceHashField of the instance)."""
        return self.model._meta.keys.instance_hash(self._pk())

    def _target_for(self, pk: str) -> tuple[str, ...]:
        return (self.model._meta.keys.instance_hash(pk), self.name)

    def hset(self, value: Any) -> Any:
        """Redis ``HSET`` of this entry."""
        value = self.prepare_value(value)
        writes = _writes_module()
        result = writes.set_entry(self, value)  # the usual case, sent directly
        if result is writes.GENERAL:
            return self._write("hset", value)
        return result

    def hsetnx(self, value: Any) -> Any:
        """Redis ``HSETNX`` of this entry."""
        return self._write("hsetnx", self.prepare_value(value))

    def delete(self) -> Any:
        """Delete this entry (``HDEL``) and its index entries."""
        if self._instance is not None and self._instance._pk is None:
            return 0
        return self._write("hdel")

    def hexists(self) -> bool:
        """True if the instance's hash has this entry (``HEXISTS``); ``False`` for an
        instance not saved yet or deleted. Sent at once, even inside a pipeline."""
        if self._instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        if self._instance._pk is None:
            return False
        return bool(self.model._meta.database.connection.hexists(*self._target()))

    exists = hexists
