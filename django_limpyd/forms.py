"""Django forms for Redis models: ``RedisModelForm`` and ``redis_modelform_factory``.

One form field per Redis field: a ``CharField`` for a ``StringField`` or an
``InstanceHashField``, a text area with one value per line for a ``SetField`` or
a ``ListField``, with one ``key=value`` per line for a ``HashField`` and one
``member=score`` per line for a ``SortedSetField`` (:mod:`django_limpyd.formfields`),
choices of the target model's pks for related fields (a select for a foreign key, a
multiple select for a ``M2MSetField`` / ``M2MListField``).

Values are text (Redis strings): whitespace is kept, and an empty input means
*no value* (the field is deleted, as ``None`` in a SQL column). Unique values are
checked before anything is written, and a uniqueness error raised by the write
itself (another writer won the race) is shown on its field too. An update writes
the changed fields together (see :meth:`BaseRedisModelForm._update`). The admin's
forms (``django_limpyd.admin.forms``) are built on the same pieces.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.forms.forms import DeclarativeFieldsMetaclass

from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    InvalidValue,
    UniquenessError,
)
from django_limpyd.formfields import EntriesField, ScoredMembersField

__all__ = [
    "BaseRedisModelForm",
    "RedisModelForm",
    "formfield_for",
    "redis_modelform_factory",
    "validate_no_nul",
    "validate_number",
]

#: a number as a NumberRangeIndex scores it (the rule of ``indexes.range.index_number``)
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*", re.ASCII)

#: storage types with a form field
SINGLE_VALUE_TYPES = ("string", "hfield")
MULTI_VALUE_TYPES = ("set", "list")
PAIRS_TYPES = {"hash": EntriesField, "zset": ScoredMembersField}


def validate_number(value: str) -> None:
    """Refuse what a number range index would score as 0."""
    if not _NUMBER.fullmatch(value):
        raise ValidationError("Enter a number: this field has a number range index.")


def validate_no_nul(value: str) -> None:
    """Refuse NUL, which a text range index cannot store."""
    if "\0" in value:
        raise ValidationError("This field has a text range index: it cannot hold NUL.")


def describe(model_field: Any) -> str:
    """The help text of a field: its type, uniqueness and indexes."""
    parts = [type(model_field).__name__]
    if model_field.unique:
        parts.append("unique")
    if model_field.indexes:
        parts.append("indexes: " + ", ".join(type(index).__name__ for index in model_field.indexes))
    parts.append("empty: no value")
    return " · ".join(parts)


def has_formfield(model_field: Any) -> bool:
    """True if :func:`formfield_for` gives a form field for ``model_field``."""
    return model_field.storage_type in (*SINGLE_VALUE_TYPES, *MULTI_VALUE_TYPES, *PAIRS_TYPES)


def _empty(value: Any) -> bool:
    """``None``, or an empty list, tuple, set or dict: no value to create."""
    return value is None or (isinstance(value, (list, tuple, set, frozenset, dict)) and not value)


class LinesField(forms.CharField):
    """Several values, one per line (empty lines ignored): a list."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple, set, frozenset)):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, (list, tuple)):
            return list(value)
        text = super().to_python(value) or ""
        return [line for line in text.splitlines() if line.strip()]

    def run_validators(self, value: Any) -> None:
        for item in value:
            super().run_validators(item)


def _pk_choices(model_field: Any, blank: bool) -> Any:
    """Choices of the pks of a related field's target model (read per form)."""

    def choices() -> list[tuple[str, str]]:
        pks = [(pk, pk) for pk in model_field.related_model.collection()]
        return [("", "---------"), *pks] if blank else pks

    return choices


def formfield_for(model_field: Any, widget: Any = None) -> forms.Field:
    """The form field of a Redis field, with its indexes' validators."""
    validators = []
    kinds = {index.kind for index in model_field.indexes}
    if "num" in kinds:
        validators.append(validate_number)
    if "text" in kinds:
        validators.append(validate_no_nul)
    options: dict[str, Any] = {
        "required": False,
        "label": model_field.name.replace("_", " "),
        "help_text": describe(model_field),
    }
    if widget is not None:
        options["widget"] = widget
    related = getattr(model_field, "related_model", None) is not None
    if model_field.storage_type in PAIRS_TYPES:
        return PAIRS_TYPES[model_field.storage_type](validators=validators, **options)
    if model_field.storage_type in MULTI_VALUE_TYPES:
        if related:
            return forms.MultipleChoiceField(choices=_pk_choices(model_field, False), **options)
        return LinesField(validators=validators, **options)
    if model_field.storage_type not in SINGLE_VALUE_TYPES:
        raise ImproperlyConfigured(
            f"{model_field.describe()} ({type(model_field).__name__}) has no form field."
        )
    if related:
        return forms.TypedChoiceField(
            choices=_pk_choices(model_field, True), empty_value=None, **options
        )
    return forms.CharField(strip=False, empty_value=None, validators=validators, **options)


class BaseRedisModelForm(forms.Form):
    """Creates, or updates, an instance of ``model`` from the ``editable`` fields.

    ``object_pk`` is the pk of the instance updated (``None``: a creation).
    """

    model: Any = None
    editable: tuple[str, ...] = ()
    object_pk: str | None = None
    instance: Any = None

    @property
    def adding(self) -> bool:
        """True when the form creates an instance."""
        return self.object_pk is None

    @property
    def meta(self) -> Any:
        """The model's ``_meta``."""
        return self.model._meta

    # -- validation -----------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        """Check unique values against the other instances (before any write)."""
        cleaned = super().clean()
        for name in self.editable:
            model_field = self.meta.get_field(name)
            value = cleaned.get(name)
            if not model_field.unique or model_field.multi or value is None:
                continue
            if name in self.errors or (not self.adding and name not in self.changed_data):
                continue
            try:
                holders = list(self.model.collection(**{name: value})[:2])
            except (InvalidValue, ImplementationError) as exc:
                self.add_error(name, str(exc))
                continue
            if any(holder != self.object_pk for holder in holders):
                self.add_error(name, self.unique_message(name))
        return cleaned

    def unique_message(self, name: str) -> str:
        """The error of a value another instance holds."""
        return f"{self.meta.verbose_name.capitalize()} with this {name} already exists."

    # -- writing --------------------------------------------------------------------

    def save(self) -> Any:
        """Write the changes (create when adding): the instance, or ``None`` with the
        errors added to the form (a value another writer took meanwhile...)."""
        try:
            return self._create() if self.adding else self._update()
        except UniquenessError as exc:
            name = self._field_named_in(str(exc))
            self.add_error(name, self.unique_message(name) if name else str(exc))
        except (InvalidValue, ImplementationError) as exc:
            self.add_error(self._field_named_in(str(exc)), str(exc))
        except DoesNotExist as exc:
            self.add_error(None, str(exc))
        return None

    def _create(self) -> Any:
        """One create (``Model(**values)``): every value and index entry at once."""
        values = {
            name: self.cleaned_data[name]
            for name in self.editable
            if not _empty(self.cleaned_data.get(name))
        }
        pk_field = self.meta.pk_field
        if not pk_field.auto and pk_field.name in self.cleaned_data:
            values[pk_field.name] = self.cleaned_data[pk_field.name]
        if not values:
            self.add_error(
                None, "Give at least one value: an instance without values is not saved."
            )
            return None
        self.instance = self.model(**values)
        return self.instance

    def _update(self) -> Any:
        """Write the changed fields: the instance hash's with one ``hmset`` (and one
        ``hdel``), a string field with ``set`` (or ``delete``), a multi-value field by
        ``delete`` then the command adding its new members (``sadd``, ``rpush``,
        ``zadd``, ``hmset``). Each is one atomic write with its index entries (the
        write functions take one command each); several are sent together in one
        ``MULTI``/``EXEC`` pipeline: one round trip, and no reader sees half of the
        update. Redis does not roll a transaction back: a write refused inside it (a
        unique value a concurrent writer took since :meth:`clean` checked it) leaves
        the others done, and its error is shown on its field. A sharded model with
        unique fields sends its writes one after the other (a unique value takes several
        steps, see :mod:`django_limpyd.sharding.unique`)."""
        instance = self.instance
        if instance is None or instance.pk.get() != self.object_pk:
            instance = self.model.lazy_connect(self.object_pk)
        hash_set, hash_deleted, writes = {}, [], []
        for name in self.editable:
            if name not in self.changed_data:
                continue
            value = self.cleaned_data[name]
            model_field = self.meta.get_field(name)
            bound = instance.get_field(name)
            if model_field.storage_type == "hfield":
                if value is None:
                    hash_deleted.append(name)
                else:
                    hash_set[name] = value
            elif model_field.multi:
                writes.append(bound.delete)
                if value:
                    writes.append(lambda bound=bound, value=value: bound.proxy_set(value))
            elif value is None:
                writes.append(bound.delete)
            else:
                writes.append(lambda bound=bound, value=value: bound.set(value))
        if hash_deleted:
            writes.insert(0, lambda: instance.hdel(*hash_deleted))
        if hash_set:
            writes.insert(0, lambda: instance.hmset(**hash_set))
        if len(writes) == 1 or (self.meta.shards and self.meta.has_unique):
            # a sharded model's unique values are written in steps: not in a pipeline
            for write in writes:
                write()
        elif writes:
            with self.meta.database.pipeline() as pipeline:
                for write in writes:
                    write()
                pipeline.execute()
        self.instance = instance
        return instance

    def _field_named_in(self, message: str) -> str | None:
        """The form field an error message is about (``Model.field ...``), if any."""
        for name in sorted(self.fields, key=len, reverse=True):
            if re.search(rf"\b{re.escape(self.meta.name)}\.{re.escape(name)}\b", message):
                return name
        pk_name = self.meta.pk_field.name
        if self.adding and pk_name in self.fields and "already exists" in message:
            return pk_name
        return None


def _form_field_names(model: Any, fields: Any, exclude: Any) -> list[str]:
    meta = model._meta
    if fields is None and exclude is None:
        raise ImproperlyConfigured(
            f"A RedisModelForm of {model.__name__} needs Meta.fields or Meta.exclude "
            "(fields = '__all__' for every field)."
        )
    if fields is None or fields == "__all__":
        names = [field.name for field in meta.data_fields if has_formfield(field)]
    else:
        names = [name for name in fields if name != "pk"]
        for name in names:
            if not model.has_field(name):
                raise ImproperlyConfigured(f"{model.__name__} has no field {name!r}.")
    return [name for name in names if name not in (exclude or ())]


class RedisModelFormMetaclass(DeclarativeFieldsMetaclass):
    """Builds the form fields of ``Meta.model`` (``fields``, ``exclude``, ``widgets``)."""

    def __new__(mcs, name: str, bases: tuple, attrs: dict[str, Any]) -> type:
        new_class = super().__new__(mcs, name, bases, attrs)
        meta = getattr(new_class, "Meta", None)
        model = getattr(meta, "model", None)
        if model is None:
            return new_class
        widgets = getattr(meta, "widgets", None) or {}
        names = _form_field_names(
            model, getattr(meta, "fields", None), getattr(meta, "exclude", None)
        )
        declared = new_class.declared_fields
        base_fields = {
            name: formfield_for(model._meta.get_field(name), widgets.get(name))
            for name in names
            if name not in declared
        }
        base_fields.update(declared)
        new_class.base_fields = base_fields
        new_class.model = model
        new_class.editable = tuple(name for name in base_fields if name in names)
        return new_class


class RedisModelForm(BaseRedisModelForm, metaclass=RedisModelFormMetaclass):
    """A form for a Redis model, usable in any view::

        class PostForm(RedisModelForm):
            class Meta:
                model = Post
                fields = ["title", "status", "tags"]  # or exclude = [...]
                widgets = {"title": forms.TextInput(attrs={"size": 80})}

    ``PostForm(request.POST)`` creates an instance on :meth:`save`,
    ``PostForm(request.POST, instance=post)`` updates ``post``.
    """

    def __init__(
        self,
        data: Any = None,
        files: Any = None,
        *,
        instance: Any = None,
        initial: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        values = self.read_values(instance) if instance is not None else {}
        super().__init__(data, files, initial={**values, **(initial or {})}, **kwargs)
        self.instance = instance
        self.object_pk = instance.pk.get() if instance is not None else None
        pk_field = self.meta.pk_field
        if self.adding and not pk_field.auto and pk_field.name not in self.fields:
            self.fields[pk_field.name] = forms.CharField(
                strip=False, label=pk_field.name, help_text="The primary key."
            )

    def read_values(self, instance: Any) -> dict[str, Any]:
        """The current values of the form's fields (the instance hash's in one read)."""
        meta = self.meta
        hash_names = [
            name for name in self.editable if meta.get_field(name).storage_type == "hfield"
        ]
        values = dict(zip(hash_names, instance.hmget(*hash_names), strict=True))
        for name in self.editable:
            if name in values:
                continue
            bound = instance.get_field(name)
            if bound.storage_type == "zset":  # with the scores, by increasing score
                values[name] = bound.zrange(0, -1, withscores=True)
                continue
            value = bound.proxy_get()
            values[name] = sorted(value) if isinstance(value, set) else value
        return values


def redis_modelform_factory(
    model: Any,
    form: type[RedisModelForm] = RedisModelForm,
    fields: Any = None,
    exclude: Any = None,
    widgets: dict[str, Any] | None = None,
) -> type[RedisModelForm]:
    """A :class:`RedisModelForm` class for ``model`` (as Django's ``modelform_factory``)."""
    attrs: dict[str, Any] = {"model": model}
    for name, value in (("fields", fields), ("exclude", exclude), ("widgets", widgets)):
        if value is not None:
            attrs[name] = value
    parent = (form.Meta,) if hasattr(form, "Meta") else ()
    meta = type("Meta", parent, attrs)
    return type(form)(f"{model.__name__}Form", (form,), {"Meta": meta, "__module__": __name__})
