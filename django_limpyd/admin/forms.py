"""Django forms editing the single-value fields of a Redis model in the admin.

Built on :mod:`django_limpyd.forms` (the form fields, uniqueness checks and the
save path are the ones of ``RedisModelForm`` used in any view): values are text,
an empty input means *no value*, unique values are checked before anything is
written and a uniqueness error raised by the write itself is shown on its field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from django_limpyd import forms as redis_forms
from django_limpyd.forms import BaseRedisModelForm, describe, validate_no_nul, validate_number

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin

__all__ = [
    "RedisModelForm",
    "describe",
    "formfield_for",
    "redis_form_factory",
    "validate_no_nul",
    "validate_number",
]

#: values longer than this are edited in a text area
_LONG = 80


def formfield_for(model_field: Any) -> forms.Field:
    """A ``CharField`` for a single-value field, with its indexes' validators."""
    return redis_forms.formfield_for(model_field, forms.TextInput(attrs={"class": "vTextField"}))


class RedisModelForm(BaseRedisModelForm):
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
    def model(self) -> Any:  # type: ignore[override]
        """The model of the admin page."""
        return self.model_admin.model

    @property
    def meta(self) -> Any:
        """The model's ``_meta``."""
        return self.model_admin.opts


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
