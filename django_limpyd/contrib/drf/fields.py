"""Serializer fields for Redis fields, and the one serializer field each model field gets.

=============================================  ==========================================
model field                                    serializer field (JSON)
=============================================  ==========================================
``PKField`` / ``AutoPKField``                  ``CharField`` (a string; read only once set)
``StringField``, ``InstanceHashField``         ``CharField`` (text kept as is)
... with a ``NumberRangeIndex``                :class:`RedisNumberField` (a number)
``SetField``                                   :class:`RedisSetField` (a sorted list)
``ListField``                                  :class:`RedisListField` (a list)
``SortedSetField``                             :class:`RedisSortedSetField` (member: score)
``HashField``                                  :class:`RedisHashField` (a dict)
``FKStringField``, ``FKInstanceHashField``     :class:`RedisPrimaryKeyRelatedField` (a pk)
``M2MSetField``, ``M2MListField``              :class:`RedisManyRelatedField` (pks)
``M2MSortedSetField``                          :class:`RedisScoredRelatedField` (pk: score)
=============================================  ==========================================

Every field but the pk is optional and nullable: ``null`` (or an empty list or
dict) on an update deletes the value, as the admin's empty input does. Text
is kept as given (no stripping); DRF refuses NUL characters in it (which a
TextRangeIndex could not store anyway). Related pks must be pks of existing
instances (checked in one round trip per field, before writing).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from django_limpyd.contrib.related.base import RelatedFieldMixin
from django_limpyd.exceptions import InvalidValue
from django_limpyd.forms import validate_number

__all__ = [
    "RedisHashField",
    "RedisListField",
    "RedisManyRelatedField",
    "RedisNumberField",
    "RedisPrimaryKeyRelatedField",
    "RedisScoredRelatedField",
    "RedisSetField",
    "RedisSortedSetField",
    "build_field",
    "is_numeric",
]


def is_numeric(model_field: Any) -> bool:
    """True if the field's values are numbers: it has a NumberRangeIndex without a
    transform (a transformed one indexes something made from the value)."""
    return any(index.kind == "num" and not index.has_transform for index in model_field.indexes)


def describe(model_field: Any) -> str:
    """The help text of a field: its type, uniqueness and indexes."""
    parts = [type(model_field).__name__]
    if model_field.unique:
        parts.append("unique")
    if model_field.indexes:
        parts.append("indexes: " + ", ".join(type(index).__name__ for index in model_field.indexes))
    return " · ".join(parts)


# -- single values ------------------------------------------------------------------


class RedisNumberField(serializers.Field):
    """A value of a field with a number range index: a JSON number (an int when the
    stored text is one), stored as its text.

    Takes ints, floats, decimals and numeric strings (``"12"``, ``"-1.5"``,
    ``"2e3"``); refuses what the index would score as 0. A stored value that is not
    a number is shown as the stored string.
    """

    default_error_messages = {
        "invalid": "A number is required: this field has a number range index.",
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return str(data)
        if isinstance(data, float):
            if not math.isfinite(data):
                self.fail("invalid")
            return repr(data)
        if isinstance(data, Decimal):
            if not data.is_finite():
                self.fail("invalid")
            return str(data)
        if isinstance(data, str):
            try:
                validate_number(data)
            except DjangoValidationError:
                self.fail("invalid")
            return data.strip()
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        text = str(value)
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text


# -- multi-value fields ---------------------------------------------------------------


class RedisSetField(serializers.ListField):
    """A ``SetField``: a list of unique strings, shown sorted; duplicates given are
    stored once."""

    def to_internal_value(self, data: Any) -> list[Any]:
        return list(dict.fromkeys(super().to_internal_value(data)))

    def to_representation(self, data: Any) -> list[Any]:
        return super().to_representation(sorted(data))


class RedisListField(serializers.ListField):
    """A ``ListField``: a list of strings, in order, duplicates allowed."""


class RedisHashField(serializers.DictField):
    """A ``HashField``: a dict of strings."""

    child = serializers.CharField(allow_blank=True, trim_whitespace=False)


class RedisSortedSetField(serializers.DictField):
    """A ``SortedSetField``: ``{member: score}``, in score order."""

    child = serializers.FloatField()


# -- related fields -------------------------------------------------------------------


class _TargetsMixin:
    """Checks that pks are those of existing instances of the target model (one round
    trip for all of them)."""

    default_error_messages = {
        "does_not_exist": 'Invalid pk "{pk_value}" - object does not exist.',
        "incorrect_type": "Incorrect type. Expected pk value, received {data_type}.",
    }

    def __init__(self, *, model_field: Any, **kwargs: Any) -> None:
        self.model_field = model_field
        super().__init__(**kwargs)

    @property
    def target(self) -> type:
        """The model the related field points to."""
        return self.model_field.related_model

    def to_pk(self, data: Any) -> str:
        """``data`` (a string or an int) as a pk of the target model."""
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            return self.target._meta.pk_field.normalize(data)
        except InvalidValue:
            self.fail("does_not_exist", pk_value=data)

    def check_targets(self, pks: list[str]) -> None:
        """Fail naming the first pk that is not the pk of an existing instance."""
        if not pks:
            return
        existing = {instance.pk.get() for instance in self.target.from_pks(pks)}
        for pk in pks:
            if pk not in existing:
                self.fail("does_not_exist", pk_value=pk)


class RedisPrimaryKeyRelatedField(_TargetsMixin, serializers.Field):
    """A foreign key (``FKStringField``, ``FKInstanceHashField``): the pk of an
    instance of the target model, checked to exist (one ``SISMEMBER``)."""

    def to_internal_value(self, data: Any) -> str:
        pk = self.to_pk(data)
        if not self.target.exists(pk):
            self.fail("does_not_exist", pk_value=pk)
        return pk

    def to_representation(self, value: Any) -> Any:
        return value


class RedisManyRelatedField(_TargetsMixin, serializers.ListField):
    """A many-to-many field (``M2MSetField``, ``M2MListField``): a list of pks, checked
    to exist (one ``SMISMEMBER`` for all). A set's pks are shown sorted."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.JSONField())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        pks = [self.to_pk(item) for item in super().to_internal_value(data)]
        if self.model_field.storage_type == "set":
            pks = list(dict.fromkeys(pks))
        self.check_targets(list(dict.fromkeys(pks)))
        return pks

    def to_representation(self, data: Any) -> list[Any]:
        if self.model_field.storage_type == "set":
            data = sorted(data)
        return list(data)


class RedisScoredRelatedField(_TargetsMixin, serializers.DictField):
    """A ``M2MSortedSetField``: ``{pk: score}``, in score order, pks checked to exist."""

    child = serializers.FloatField()

    def to_internal_value(self, data: Any) -> dict[str, float]:
        scores = super().to_internal_value(data)
        self.check_targets(list(scores))
        return scores


# -- the field of each model field ----------------------------------------------------


def _value_field(model_field: Any, **kwargs: Any) -> serializers.Field:
    """The serializer field of one value of ``model_field`` (or of each member)."""
    if is_numeric(model_field):
        return RedisNumberField(**kwargs)
    return serializers.CharField(allow_blank=True, trim_whitespace=False, **kwargs)


def _without_write_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A read-only field takes no write options (as DRF's ModelSerializer does)."""
    for option in ("required", "default", "allow_blank", "validators", "allow_empty"):
        kwargs.pop(option, None)
    return kwargs


def build_field(model_field: Any, *, creating: bool, **extra: Any) -> serializers.Field:
    """The serializer field of ``model_field``; ``creating`` tells whether the
    serializer may create an instance (the pk of a ``PKField`` is written then);
    ``extra`` are keyword arguments from ``Meta.extra_kwargs``/``read_only_fields``."""
    from django_limpyd.contrib.drf.validators import RedisUniqueValidator

    model = model_field.model
    meta = model._meta
    kwargs: dict[str, Any] = {"help_text": describe(model_field)}
    if model_field is meta.pk_field:
        if model_field.auto or not creating:
            return serializers.CharField(read_only=True, **{**kwargs, **extra})
        kwargs.update(
            required=True,
            trim_whitespace=False,
            validators=[RedisUniqueValidator(model, model_field.name)],
        )
        kwargs.update(extra)
        if kwargs.get("read_only"):
            _without_write_options(kwargs)
        return serializers.CharField(**kwargs)

    kwargs.update(required=False, allow_null=True)
    if model_field.unique and model_field.storage_type in ("string", "hfield", "set", "list"):
        kwargs["validators"] = [RedisUniqueValidator(model, model_field.name)]
    kwargs.update(extra)
    if kwargs.get("read_only"):
        _without_write_options(kwargs)
    storage_type = model_field.storage_type

    if isinstance(model_field, RelatedFieldMixin):
        if model_field.foreign_key:
            return RedisPrimaryKeyRelatedField(model_field=model_field, **kwargs)
        if storage_type == "zset":
            return RedisScoredRelatedField(model_field=model_field, **kwargs)
        return RedisManyRelatedField(model_field=model_field, **kwargs)
    if storage_type in ("string", "hfield"):
        return _value_field(model_field, **kwargs)
    if storage_type in ("set", "list"):
        child = _value_field(model_field)
        field_class = RedisSetField if storage_type == "set" else RedisListField
        return field_class(child=child, **kwargs)
    if storage_type == "zset":
        return RedisSortedSetField(**kwargs)
    if storage_type == "hash":
        return RedisHashField(**kwargs)
    raise TypeError(f"No serializer field for {model_field!r}.")  # pragma: no cover
