"""Writing a serializer's validated data, each request as one atomic write where it can.

* A create is ``Model(**values)``: one script call writing every value and its
  index entries, or nothing.
* An update sends one write per field, each atomic with its index entries:
  the ``InstanceHashField`` values together with ``instance.hmset(**values)``
  (and ``hdel`` for those set to ``null``), a ``StringField`` with ``set`` (or
  ``delete``), a multi-value field by ``delete`` then the command adding the new
  members. A single write is sent as it is; several are sent in the database's
  pipeline: one round trip, one ``MULTI``/``EXEC``, so no reader ever sees half
  of the update. Redis does not roll a transaction back: a write refused by the
  server inside it (a unique value taken by a concurrent writer since it was
  checked) leaves the other writes of the update done.

The errors of a write become DRF errors naming the serializer field:
``UniquenessError`` and ``InvalidValue`` a 400, a related pk that vanished a 400,
the instance itself gone a 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.exceptions import NotFound, ValidationError

from django_limpyd.contrib.drf.validators import unique_message
from django_limpyd.exceptions import DoesNotExist, InvalidValue, LimpydException, UniquenessError

__all__ = ["create_instance", "update_instance", "write_error"]

#: the key DRF gives errors that are about no field in particular
NON_FIELD = "non_field_errors"


def _empty(value: Any) -> bool:
    """``None``, or an empty list/dict of a multi-value field: no value."""
    return value is None or (isinstance(value, (list, tuple, dict)) and not value)


def create_instance(model: type, data: Mapping[str, Any]) -> Any:
    """Create an instance with the values of ``data`` (``None`` and empty values are
    left out) in one script call; ``ValidationError`` if nothing would be stored."""
    values = {name: value for name, value in data.items() if not _empty(value)}
    instance = model(**values)
    if instance.pk.get() is None:
        raise ValidationError(
            {NON_FIELD: ["Give at least one value: an instance without values is not saved."]}
        )
    return instance


def _field_writes(instance: Any, model_field: Any, value: Any) -> list[Callable[[], Any]]:
    """The writes replacing the value of a field that is not an InstanceHashField."""
    bound = instance.get_field(model_field.name)
    storage_type = model_field.storage_type
    if storage_type == "string":
        return [bound.delete] if value is None else [lambda: bound.set(value)]
    writes: list[Callable[[], Any]] = [bound.delete]
    if _empty(value):
        return writes
    if storage_type == "set":
        writes.append(lambda: bound.sadd(*value))
    elif storage_type == "list":
        writes.append(lambda: bound.rpush(*value))
    elif storage_type == "zset":
        writes.append(lambda: bound.zadd(dict(value)))
    elif storage_type == "hash":
        writes.append(lambda: bound.hmset(dict(value)))
    return writes


def update_instance(instance: Any, data: Mapping[str, Any]) -> Any:
    """Write the values of ``data`` to ``instance`` (``None``: delete the value): one
    atomic write, or several in one MULTI/EXEC pipeline."""
    meta = instance._meta
    hash_set: dict[str, Any] = {}
    hash_deleted: list[str] = []
    writes: list[Callable[[], Any]] = []
    for name, value in data.items():
        model_field = meta.get_field(name)
        if model_field is meta.pk_field:
            continue  # a pk never changes
        if model_field.storage_type == "hfield":
            if value is None:
                hash_deleted.append(model_field.name)
            else:
                hash_set[model_field.name] = value
        else:
            writes.extend(_field_writes(instance, model_field, value))
    if hash_deleted:
        writes.insert(0, lambda: instance.hdel(*hash_deleted))
    if hash_set:
        writes.insert(0, lambda: instance.hmset(**hash_set))
    if len(writes) == 1:
        writes[0]()
    elif writes:
        with meta.database.pipeline() as pipeline:
            for write in writes:
                write()
            pipeline.execute()
    return instance


def _field_named_in(model: type, message: str) -> str | None:
    """The model field an error message is about (``Model.field ...``), if any."""
    names = sorted(model._meta.fields, key=len, reverse=True)
    for name in names:
        if re.search(rf"\b{re.escape(model.__name__)}\.{re.escape(name)}\b", message):
            return name
    return None


def write_error(
    exc: LimpydException, model: type, serializer_names: Mapping[str, str]
) -> Exception:
    """The DRF error of a refused write, on the serializer field of the model field it
    names (``serializer_names``: model field name -> serializer field name)."""
    message = str(exc)
    name = _field_named_in(model, message)
    if isinstance(exc, UniquenessError):
        if name is None and "already exists" in message:  # a PKField value taken
            name = model._meta.pk_field.name
        key = serializer_names.get(name, name) if name else NON_FIELD
        return ValidationError({key: [unique_message(model, name) if name else message]})
    if isinstance(exc, DoesNotExist):
        if name is not None:  # a related field pointing to an instance that vanished
            return ValidationError({serializer_names.get(name, name): [message]})
        return NotFound(message)
    if isinstance(exc, InvalidValue):
        key = serializer_names.get(name, name) if name else NON_FIELD
        return ValidationError({key: [message]})
    return exc
