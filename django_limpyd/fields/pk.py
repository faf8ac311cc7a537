"""``PKField`` and ``AutoPKField``: the identity of an instance."""

from __future__ import annotations

from typing import Any

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields.base import SingleValueField
from django_limpyd.fields.commands import async_twin

__all__ = ["AutoPKField", "PKField"]


class PKField(SingleValueField):
    """The primary key: any non-empty string, given at creation, never changed.

    The pk is not stored in a key of its own: the model's set of pks holds it.
    """

    storage_type = "pk"
    accepts_default = False
    allows_expiry = False
    expiry_refusal = "the pk is the instance itself."
    #: True when pks are given by the database (1, 2, 3, ...)
    auto = False
    proxy_getter = "get"
    proxy_setter = "set"
    available_getters = frozenset({"get"})
    available_modifiers = frozenset({"set"})
    available_commands = available_getters | available_modifiers
    #: async twins of :meth:`get` (no round trip) and :meth:`set`
    aget = async_twin("get")
    aset = async_twin("set")

    def __init__(self, **kwargs: Any) -> None:
        for option in ("indexable", "unique", "indexes", "default"):
            if kwargs.get(option):
                raise ImplementationError(f"{type(self).__name__} does not accept {option}=.")
        super().__init__(lockable=kwargs.get("lockable", True))

    def normalize(self, value: Any) -> str:
        """``value`` as a pk string, or :class:`InvalidValue`."""
        pk = self.prepare_value(value)
        if pk == "":
            raise InvalidValue(f"{self.describe()} cannot be an empty string.")
        return pk

    def current_value(self) -> str | None:
        """The pk (no round trip)."""
        return self.get()

    def get(self) -> str | None:
        """The pk of the instance (no round trip: it never changes)."""
        return self._instance._pk if self._instance is not None else None

    def set(self, value: Any) -> Any:
        """Give an unsaved instance its pk (creating it); a pk is never changed."""
        instance = self._instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        if instance._pk is not None:
            raise ImplementationError(
                f"{self.describe()} cannot be changed (instance {instance._pk!r} exists)."
            )
        instance._create({self.name: value})
        return True

    def exists(self, value: Any = None) -> bool:
        """True if an instance with pk ``value`` (default: the bound instance's pk)
        exists. Sent at once, even inside a pipeline."""
        if value is None or value == "":
            value = self.get()
            if value is None:
                return False
        meta = self.model._meta
        return meta.database.connection.zscore(meta.keys.pks, self.prepare_value(value)) is not None

    def delete(self) -> Any:
        """Refused: delete the instance instead."""
        raise ImplementationError(f"{self.describe()} cannot be deleted; delete the instance.")


class AutoPKField(PKField):
    """A pk filled with 1, 2, 3, ... by Redis (``INCR``); assigning one is an error."""

    auto = True

    def set(self, value: Any) -> Any:
        """Refused: the database gives AutoPK values."""
        raise ImplementationError(
            f"{self.describe()} is an AutoPKField: its value is given by "
            "the database, not assigned."
        )
