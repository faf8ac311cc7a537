"""``RedisModelSerializer``: a serializer made from a Redis model, like DRF's
``ModelSerializer`` is made from a Django model.

.. code-block:: python

    class PersonSerializer(RedisModelSerializer):
        class Meta:
            model = Person
            fields = "__all__"          # or a list of names; or exclude = [...]
            read_only_fields = ["city"]
            extra_kwargs = {"name": {"help_text": "Unique"}}

Each model field gets the serializer field of :func:`~django_limpyd.contrib.drf.fields.build_field`;
declared fields replace or complete them. A nested serializer of a related field
(``author = AuthorSerializer(read_only=True)``) shows the instance it points to
(read for every row at once). Reading, validation and writing cost:

* showing an instance or a page of them: see :mod:`~django_limpyd.contrib.drf.reading`
  (one round trip for the single-value fields of a page, one more for the
  multi-value fields of all its rows);
* validating: one round trip per unique value given and per related field given;
* writing: see :mod:`~django_limpyd.contrib.drf.writes` (a create is one script
  call; an update one atomic write, or one MULTI/EXEC pipeline).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from django_limpyd.contrib.drf.fields import build_field
from django_limpyd.contrib.drf.reading import Row, RowReader
from django_limpyd.contrib.drf.writes import create_instance, update_instance, write_error
from django_limpyd.exceptions import DoesNotExist, InvalidValue, UniquenessError
from django_limpyd.model import RedisModel

__all__ = ["RedisListSerializer", "RedisModelSerializer"]

ALL_FIELDS = "__all__"


class RedisListSerializer(serializers.ListSerializer):
    """``many=True`` for a :class:`RedisModelSerializer`: reads every row at once
    (a collection with its filters, sort and slice, or instances, rows or pks)."""

    def to_representation(self, data: Any) -> list[Any]:
        rows = self.child.read_rows(data)
        return [self.child.to_representation(row) for row in rows]


class RedisModelSerializer(serializers.Serializer):
    """A serializer of the Redis model ``Meta.model``: one field per model field
    (``Meta.fields``/``exclude``, ``read_only_fields``, ``extra_kwargs``), unique
    values checked before writing, ``create``/``update`` as one atomic write."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is None:
            return
        model = getattr(meta, "model", None)
        if not (isinstance(model, type) and issubclass(model, RedisModel)):
            raise ImproperlyConfigured(
                f"{cls.__name__}.Meta.model must be a Redis model class, got {model!r}."
            )
        if not hasattr(meta, "list_serializer_class"):
            meta.list_serializer_class = RedisListSerializer

    # -- fields ---------------------------------------------------------------------

    @property
    def model(self) -> type:
        """The Redis model (``Meta.model``)."""
        meta = getattr(self, "Meta", None)
        model = getattr(meta, "model", None)
        if model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} has no Meta.model.")
        return model

    def get_field_names(self, declared: Mapping[str, Any]) -> list[str]:
        """The names of the serializer's fields, from ``Meta.fields`` or ``Meta.exclude``."""
        meta = self.Meta
        model_meta = self.model._meta
        fields = getattr(meta, "fields", None)
        exclude = getattr(meta, "exclude", None)
        where = f"{type(self).__name__}.Meta"
        if (fields is None) == (exclude is None):
            raise ImproperlyConfigured(
                f"{where}: set either `fields` (a list of names, or '__all__') or `exclude`."
            )
        if fields == ALL_FIELDS or exclude is not None:
            names = list(model_meta.fields)
            names += [name for name in declared if name not in names]
            for name in exclude or ():
                if name not in names:
                    raise ImproperlyConfigured(
                        f"{where}.exclude names {name!r}, which is not a field of "
                        f"{model_meta.name} ({', '.join(model_meta.fields)})."
                    )
                names.remove(name)
            return names
        if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
            raise ImproperlyConfigured(f"{where}.fields must be a list, a tuple or '__all__'.")
        missing = [name for name in declared if name not in fields]
        if missing:
            raise ImproperlyConfigured(
                f"{where}.fields must include the declared field(s) {', '.join(missing)}."
            )
        return list(fields)

    def get_fields(self) -> dict[str, serializers.Field]:
        """Declared fields, and one field per model field named in ``Meta``."""
        declared = copy.deepcopy(self._declared_fields)
        meta = self.Meta
        model = self.model
        read_only = set(getattr(meta, "read_only_fields", ()) or ())
        extra_kwargs = getattr(meta, "extra_kwargs", {}) or {}
        creating = self.instance is None
        fields: dict[str, serializers.Field] = {}
        for name in self.get_field_names(declared):
            if name in declared:
                fields[name] = declared[name]
                self._check_nested(name, declared[name])
                continue
            if not model._meta.has_field(name):
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.Meta.fields names {name!r}, which is neither a "
                    f"field of {model.__name__} ({', '.join(model._meta.fields)}) nor a "
                    "declared field."
                )
            extra = dict(extra_kwargs.get(name, {}))
            if name in read_only:
                extra["read_only"] = True
            fields[name] = build_field(model._meta.get_field(name), creating=creating, **extra)
        return fields

    def _check_nested(self, name: str, field: Any) -> None:
        nested = field.child if isinstance(field, serializers.ListSerializer) else field
        if isinstance(nested, serializers.BaseSerializer) and not field.read_only:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.{name}: nested serializers are shown only; declare "
                "them with read_only=True (write the pks with another field)."
            )

    def serializer_names(self) -> dict[str, str]:
        """Model field name -> name of the serializer field writing it."""
        names = {}
        for field_name, field in self.fields.items():
            if field.source_attrs and len(field.source_attrs) == 1:
                names.setdefault(field.source_attrs[0], field_name)
        return names

    # -- reading --------------------------------------------------------------------

    def get_reader(self) -> RowReader:
        """The reader of the model fields the readable fields show (and of the nested
        serializers' fields); made once per serializer."""
        reader = self.__dict__.get("_row_reader")
        if reader is None:
            reader = self.__dict__["_row_reader"] = self.build_reader()
        return reader

    def build_reader(self) -> RowReader:
        """A new reader of the fields this serializer shows."""
        model_meta = self.model._meta
        names: list[str] = []
        nested: dict[str, RowReader] = {}
        for field in self._readable_fields:
            if len(field.source_attrs) != 1 or not model_meta.has_field(field.source_attrs[0]):
                continue  # source="*", a method field, or not a model field
            source = field.source_attrs[0]
            names.append(source)
            child = field.child if isinstance(field, serializers.ListSerializer) else field
            if isinstance(child, RedisModelSerializer):
                nested[source] = child.get_reader()
        return RowReader(self.model, names, nested)

    def read_rows(self, items: Any) -> list[Row]:
        """Rows of ``items`` (a collection, or instances, rows or pks), read at once."""
        return self.get_reader().read(items)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """The representation of an instance, a row or a pk (read in one round trip
        unless it is a row already read)."""
        [row] = self.read_rows([instance])
        return super().to_representation(row)

    # -- writing --------------------------------------------------------------------

    def _write(self, write: Any, *args: Any) -> Any:
        try:
            return write(*args)
        except (UniquenessError, DoesNotExist, InvalidValue) as exc:
            raise write_error(exc, self.model, self.serializer_names()) from exc

    def create(self, validated_data: dict[str, Any]) -> Any:
        """Create the instance in one script call (``Model(**values)``)."""
        return self._write(create_instance, self.model, validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        """Write the changes: one atomic write, or one MULTI/EXEC pipeline."""
        if isinstance(instance, Row):
            instance = instance.instance
        return self._write(update_instance, instance, validated_data)
