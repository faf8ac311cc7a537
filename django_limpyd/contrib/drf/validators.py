"""``RedisUniqueValidator``: unique values checked before writing, in DRF's format.

The check is a collection filtered on the value (one round trip); the write
itself enforces uniqueness atomically too, and the serializer maps the
``UniquenessError`` of a writer that lost the race to the same error.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from django_limpyd.exceptions import LimpydException

__all__ = ["RedisUniqueValidator", "pk_of", "unique_message"]


def unique_message(model: type, name: str) -> str:
    """The error of a unique value another instance holds (the admin's wording)."""
    return f"{model._meta.verbose_name.capitalize()} with this {name} already exists."


def pk_of(instance: Any) -> str | None:
    """The pk of an instance or a row (``None``: nothing yet)."""
    if instance is None:
        return None
    pk = getattr(instance, "pk", None)
    if pk is None or isinstance(pk, str):
        return pk
    return pk.get()  # the pk field of a model instance


class RedisUniqueValidator:
    """Fails when another instance of ``model`` holds the value of field ``name``
    (each member, for a set or list field); the instance being updated may hold it.

    A field validator (``requires_context``): the serializer's ``instance`` is the
    one being updated.
    """

    requires_context = True

    def __init__(self, model: type, name: str, message: str | None = None) -> None:
        self.model = model
        self.name = name
        self.message = message or unique_message(model, name)

    def __call__(self, value: Any, serializer_field: Any) -> None:
        current = pk_of(getattr(serializer_field.parent, "instance", None))
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            try:
                holders = list(self.model.collection(**{self.name: item})[:2])
            except LimpydException:
                return  # a value the field cannot hold: its own validators say why
            if any(holder != current for holder in holders):
                raise serializers.ValidationError(self.message, code="unique")

    def __repr__(self) -> str:
        return f"<RedisUniqueValidator {self.model.__name__}.{self.name}>"
