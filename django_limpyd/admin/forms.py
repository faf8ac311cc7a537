"""Django forms editing a Redis model's instance in the admin.

Built on :mod:`django_limpyd.forms` (the form fields, uniqueness checks and the
save path are the ones of ``RedisModelForm`` used in any view): values are text,
an empty input means *no value*, unique values are checked before anything is
written and a uniqueness error raised by the write itself is shown on its field.

Multi-value fields are edited as rows (:mod:`django_limpyd.admin.widgets`) and
written whole through the model's field (``delete`` then ``sadd``, ``rpush``,
``zadd`` or ``hmset``, so their index entries follow), with the form's other
changes in one ``MULTI``/``EXEC``. Related fields get a select of the target's
pks when it has few instances, else a raw-id input with a lookup popup; every pk
they are given is checked to exist before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from django_limpyd import forms as redis_forms
from django_limpyd.admin.formfields import rows_formfield
from django_limpyd.admin.views.base import related_model
from django_limpyd.admin.widgets import RawIdWidget
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
    """A ``CharField`` for a single-value field, rows for a multi-value one, with its
    indexes' validators."""
    if model_field.storage_type in ("set", "list", "zset", "hash"):
        base = redis_forms.formfield_for(model_field)  # the label, help and validators
        return rows_formfield(
            model_field,
            base.validators or getattr(base, "item_validators", []),
            label=base.label,
            help_text=base.help_text,
        )
    if related_model(model_field) is not None:
        # related fields get their select or raw-id input per form (see RelatedChoices)
        return forms.CharField(
            strip=False,
            required=False,
            empty_value=None,
            label=model_field.name.replace("_", " "),
            help_text=describe(model_field),
            widget=forms.TextInput(attrs={"class": "vTextField"}),
        )
    return redis_forms.formfield_for(model_field, forms.TextInput(attrs={"class": "vTextField"}))


class MembersSelect(forms.SelectMultiple):
    """A multiple select whose absence from the posted data means *unchanged* (a
    hidden input says it was on the page)."""

    template_name = "django_limpyd/widgets/select_multiple.html"

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if f"{name}__shown" not in data:
            return None
        return data.getlist(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}__shown" not in data


class RelatedChoices:
    """What a related field's input offers: the target model, its pks when it has at
    most ``limit`` instances (``None``: more, a raw-id input), the lookup URL."""

    def __init__(self, model: type, pks: list[str] | None, lookup_url: str | None) -> None:
        self.model, self.pks, self.lookup_url = model, pks, lookup_url
        self.known = set(pks) if pks is not None else None
        #: ``{pk: label}`` when the target's admin names instances by a field
        self.labels: dict[str, str] = {}

    def choices(self) -> list[tuple[str, str]]:
        """``(pk, text)`` of the select: ``label (pk)``, or the pk."""
        return [
            (pk, f"{self.labels[pk]} ({pk})" if self.labels.get(pk) not in (None, pk) else pk)
            for pk in self.pks or ()
        ]

    def missing(self, pks: list[str]) -> list[str]:
        """The ``pks`` no instance of the target has (one read if not known)."""
        pks = list(dict.fromkeys(pks))
        if self.known is not None:
            return [pk for pk in pks if pk not in self.known]
        if not pks:
            return []
        meta = self.model._meta
        pipe = meta.database.connection.pipeline(transaction=False)
        for pk in pks:
            pipe.zscore(meta.keys.pks, pk)
        return [pk for pk, score in zip(pks, pipe.execute(), strict=True) if score is None]


class RedisModelForm(BaseRedisModelForm):
    """Edits (or creates) an instance: one form field per editable field (see
    :func:`formfield_for`); ``related`` gives the choices of the related fields,
    ``not_editable`` the multi-value fields left out of this form (shown, not
    edited)."""

    #: set by :func:`redis_form_factory`
    model_admin: RedisModelAdmin
    editable: tuple[str, ...] = ()

    def __init__(
        self,
        data: Any = None,
        *,
        pk: str | None = None,
        values: dict[str, Any] | None = None,
        related: dict[str, RelatedChoices] | None = None,
        not_editable: Any = (),
        **kwargs: Any,
    ) -> None:
        values = values or {}
        #: the fields of this form (the class's, but the multi-value fields too big or
        #: too binary to edit here)
        self.editable = tuple(name for name in self.editable if name not in not_editable)
        initial = {name: values.get(name) for name in self.editable}
        super().__init__(data, initial=initial, **kwargs)
        for name in not_editable:
            self.fields.pop(name, None)
        self.object_pk = pk
        self.instance: Any = None
        self.related = {
            name: choices for name, choices in (related or {}).items() if name in self.editable
        }
        for name in self.editable:
            value = values.get(name)
            if name in self.related:
                self._related_widget(name, self.related[name], value)
            elif isinstance(value, str) and ("\n" in value or len(value) > _LONG):
                self.fields[name].widget = forms.Textarea(
                    attrs={"class": "vLargeTextField", "rows": 4}
                )

    def _related_widget(self, name: str, choices: RelatedChoices, value: Any) -> None:
        """A select of the target's pks (few), else raw-id input(s) with a lookup."""
        field = self.fields[name]
        storage_type = self.meta.get_field(name).storage_type
        target = choices.model._meta.verbose_name
        if storage_type in ("string", "hfield"):
            if choices.pks is None:
                field.widget = RawIdWidget(choices.lookup_url, target)
            else:
                options = choices.choices()
                if value is not None and value not in choices.known:
                    options.append((value, value))  # shown as it is, refused if kept
                field.widget = forms.Select(choices=[("", "---------"), *options])
        elif storage_type == "set" and choices.pks is not None:
            field.widget = MembersSelect(choices=choices.choices())
        else:
            field.widget.lookup_url = choices.lookup_url

    def clean(self) -> dict[str, Any]:
        """The checks of :class:`BaseRedisModelForm`, and the pks given to related fields
        exist (one read per target model at most)."""
        cleaned = super().clean()
        for name, choices in self.related.items():
            if name in self.errors or name not in self.changed_data:
                continue
            value = cleaned.get(name)
            if value is None:
                continue
            pks = [value] if isinstance(value, str) else list(value)
            missing = choices.missing(pks)
            if missing:
                target = choices.model._meta.verbose_name
                self.add_error(name, [f"No {target} with pk “{pk}”." for pk in missing])
        return cleaned

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
