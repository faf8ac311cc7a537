"""Django forms editing the single-value fields of a Redis model.

Values are text (Redis strings): whitespace is kept, and an empty input means
*no value* (the field is deleted, as ``None`` in a SQL column). Fields with a
number range index must hold numbers, fields with a text range index cannot
hold NUL. Unique values are checked before anything is written (one filter
per changed unique field), and a uniqueness error raised by the write itself
(another writer won the race) is shown on its field too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError

from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    InvalidValue,
    UniquenessError,
)

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin

__all__ = ["RedisModelForm", "formfield_for", "redis_form_factory"]

#: a number as a NumberRangeIndex scores it (the rule of ``indexes.range.index_number``)
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*", re.ASCII)

#: values longer than this are edited in a text area
_LONG = 80


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


def formfield_for(model_field: Any) -> forms.Field:
    """A ``CharField`` for a single-value field, with its indexes' validators."""
    validators = []
    kinds = {index.kind for index in model_field.indexes}
    if "num" in kinds:
        validators.append(validate_number)
    if "text" in kinds:
        validators.append(validate_no_nul)
    return forms.CharField(
        required=False,
        strip=False,
        empty_value=None,
        validators=validators,
        label=model_field.name.replace("_", " "),
        help_text=describe(model_field),
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )


class RedisModelForm(forms.Form):
    """Edits (or creates) an instance: one field per editable single-value field."""

    #: set by :func:`redis_form_factory`
    model_admin: RedisModelAdmin
    editable: tuple[str, ...] = ()

    def __init__(
        self,
        data: Any = None,
        *,
        pk: str | None = None,
        values: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        values = values or {}
        initial = {name: values.get(name) for name in self.editable}
        super().__init__(data, initial=initial, **kwargs)
        self.object_pk = pk
        self.instance: Any = None
        for name in self.editable:
            value = values.get(name)
            if isinstance(value, str) and ("\n" in value or len(value) > _LONG):
                self.fields[name].widget = forms.Textarea(
                    attrs={"class": "vLargeTextField", "rows": 4}
                )

    @property
    def adding(self) -> bool:
        """True on the add page."""
        return self.object_pk is None

    @property
    def meta(self) -> Any:
        """The model's ``_meta``."""
        return self.model_admin.opts

    # -- validation -----------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        """Check unique values against the other instances (before any write)."""
        cleaned = super().clean()
        model = self.model_admin.model
        for name in self.editable:
            model_field = self.meta.get_field(name)
            value = cleaned.get(name)
            if not model_field.unique or value is None or name in self.errors:
                continue
            if not self.adding and name not in self.changed_data:
                continue
            try:
                holders = list(model.collection(**{name: value})[:2])
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
        """Write the changes (create on the add page); the instance, or ``None`` with
        the errors added to the form."""
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
        model = self.model_admin.model
        values = {
            name: self.cleaned_data[name]
            for name in self.editable
            if self.cleaned_data.get(name) is not None
        }
        pk_field = self.meta.pk_field
        if not pk_field.auto:
            values[pk_field.name] = self.cleaned_data[pk_field.name]
        if not values:
            self.add_error(
                None, "Give at least one value: an instance without values is not saved."
            )
            return None
        self.instance = model(**values)
        return self.instance

    def _update(self) -> Any:
        instance = self.model_admin.model.lazy_connect(self.object_pk)
        changed = [name for name in self.editable if name in self.changed_data]
        hash_set, hash_deleted = {}, []
        for name in changed:
            value = self.cleaned_data[name]
            model_field = self.meta.get_field(name)
            if model_field.storage_type == "hfield":
                if value is None:
                    hash_deleted.append(name)
                else:
                    hash_set[name] = value
            elif value is None:
                instance.get_field(name).delete()
            else:
                instance.get_field(name).set(value)
        if hash_set:
            instance.hmset(**hash_set)
        if hash_deleted:
            instance.hdel(*hash_deleted)
        self.instance = instance
        return instance

    def _field_named_in(self, message: str) -> str | None:
        """The form field an error message is about (``Model.field ...``), if any."""
        names = sorted(self.fields, key=len, reverse=True)
        for name in names:
            if re.search(rf"\b{re.escape(self.meta.name)}\.{re.escape(name)}\b", message):
                return name
        pk_name = self.meta.pk_field.name
        if self.adding and pk_name in self.fields and "already exists" in message:
            return pk_name
        return None


def redis_form_factory(model_admin: RedisModelAdmin, *, adding: bool) -> type[RedisModelForm]:
    """The form class of a model's change (or add) page."""
    meta = model_admin.opts
    readonly = set(model_admin.readonly_fields)
    editable = tuple(name for name in model_admin.get_form_fields() if name not in readonly)
    base = model_admin.form or RedisModelForm
    attrs: dict[str, Any] = {
        "model_admin": model_admin,
        "editable": editable,
        "__module__": __name__,
    }
    if adding and not meta.pk_field.auto:
        attrs[meta.pk_field.name] = forms.CharField(
            strip=False,
            label=meta.pk_field.name,
            help_text="The primary key: any text, never changed later.",
            widget=forms.TextInput(attrs={"class": "vTextField"}),
        )
    for name in editable:
        if name not in getattr(base, "base_fields", {}):
            attrs[name] = formfield_for(meta.get_field(name))
    return type(f"{meta.object_name}Form", (base,), attrs)
