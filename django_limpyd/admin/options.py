"""``RedisModelAdmin``: how the admin-like pages show and edit one Redis model.

Every registered model gets one (the site builds a default for models nobody
registered). Options are class attributes, as on Django's ``ModelAdmin``::

    from django_limpyd import admin

    @admin.register(Person)
    class PersonAdmin(admin.RedisModelAdmin):
        list_display = ("pk", "name", "city")
        ordering = "name"
        list_per_page = 50
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from django_limpyd.admin.search import folds_case
from django_limpyd.exceptions import ImplementationError

if TYPE_CHECKING:
    from django_limpyd.admin.sites import RedisAdminSite
    from django_limpyd.fields.base import RedisField

__all__ = ["SINGLE_VALUE_TYPES", "RedisModelAdmin", "display"]

#: storage types of the fields holding one value (shown in columns, edited in forms)
SINGLE_VALUE_TYPES = ("pk", "string", "hfield")

_OPTIONS = (
    "list_display",
    "list_display_links",
    "list_per_page",
    "ordering",
    "list_filter",
    "list_filter_choices",
    "filter_choices_max",
    "filter_choices_scan_max_keys",
    "search_fields",
    "fields",
    "readonly_fields",
    "label_field",
    "multi_value_preview",
    "related_select_max",
    "form",
)


def display(*, description: str | None = None) -> Callable[[Callable], Callable]:
    """Give a ``list_display`` callable its column title (like Django's
    ``admin.display``)."""

    def decorate(function: Callable) -> Callable:
        if description is not None:
            function.short_description = description
        return function

    return decorate


class RedisModelAdmin:
    """Options of the pages of one model; subclass and register to change them."""

    #: columns of the list: field names (pk and single-value fields), names of methods
    #: of this class, or callables; both receive the row's ``{name: value}`` dict
    #: (default: the pk and every single-value field)
    list_display: Iterable[Any] | None = None
    #: the columns linking to the instance (default: the first)
    list_display_links: Iterable[str] | None = None
    #: instances per page of the list
    list_per_page: int = 100
    #: the sort of the list: a field name, ``-`` first for descending (default: pk)
    ordering: str | Iterable[str] | None = None
    #: indexed fields offered as filters (default: every indexed field)
    list_filter: Iterable[str] | None = None
    #: ``{field name: values}`` (or a callable returning them) for equality choices
    list_filter_choices: dict[str, Any] = {}
    #: the most choices an equality filter shows (more: an input instead)
    filter_choices_max: int = 25
    #: read equality choices from the index keys (SCAN) only up to this many keys in
    #: the database (``0``: never)
    filter_choices_scan_max_keys: int = 10_000
    #: fields searched by prefix (default: every field with a ``startswith`` index)
    search_fields: Iterable[str] | None = None
    #: fields of the form (default: all); multi-value fields are edited as rows
    fields: Iterable[str] | None = None
    #: fields shown but not editable
    readonly_fields: Iterable[str] = ()
    #: the field naming an instance in titles and messages (default: the first unique
    #: single-value field, else the pk)
    label_field: str | None = None
    #: members of a multi-value field shown on the instance page (and the most a
    #: multi-value field may hold to be edited there)
    multi_value_preview: int = 100
    #: a related field whose target has at most this many instances is a select,
    #: else a raw-id input with a lookup popup
    related_select_max: int = 100
    #: the form class (default: built by :func:`django_limpyd.admin.forms.redis_form_factory`)
    form: type | None = None

    def __init__(self, model: type, site: RedisAdminSite) -> None:
        self.model = model
        self.opts = model._meta
        self.site = site
        # options are checked by system check limpyd.E009 (django_limpyd.admin_checks),
        # not here: a wrong option must not break the import of an admin module

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.opts.label}>"

    def _check(self) -> None:
        """Refuse options naming fields the model does not have (at registration)."""
        for attr in dir(type(self)):
            if (
                attr.startswith("list_")
                and attr not in _OPTIONS
                and not callable(getattr(type(self), attr))
            ):
                raise ImplementationError(f"{type(self).__name__}.{attr} is not an option.")
        for name in self.get_form_fields() + list(self.readonly_fields):
            if not self.opts.has_field(name):
                raise ImplementationError(
                    f"{type(self).__name__}.fields: {self.opts.name} has no field {name!r}."
                )
        if self.label_field:
            self._single_value_field(self.label_field, "label_field")
        for name in self.get_list_filter():
            if not self.opts.get_field(name).indexes:
                raise ImplementationError(
                    f"{type(self).__name__}.list_filter: {self.opts.name}.{name} is not indexed."
                )
        for name in self.get_search_fields():
            if self.search_lookup(name) is None:
                raise ImplementationError(
                    f"{type(self).__name__}.search_fields: no index of {self.opts.name}.{name} "
                    "handles startswith."
                )
        for column in self.get_list_display():
            self.column(column)  # unknown names fail now
        self.get_ordering()

    def _single_value_field(self, name: str, option: str) -> RedisField:
        if not self.opts.has_field(name):
            raise ImplementationError(
                f"{type(self).__name__}.{option}: {self.opts.name} has no field {name!r}."
            )
        field = self.opts.get_field(name)
        if field.storage_type not in SINGLE_VALUE_TYPES:
            raise ImplementationError(
                f"{type(self).__name__}.{option}: {field.describe()} holds several values."
            )
        return field

    # -- the list -------------------------------------------------------------------

    def get_list_display(self) -> list[Any]:
        """The columns of the list."""
        if self.list_display is not None:
            return list(self.list_display)
        return [
            "pk" if field is self.opts.pk_field else field.name
            for field in self.opts.get_fields()
            if field.storage_type in SINGLE_VALUE_TYPES
        ]

    def column(self, item: Any) -> dict[str, Any]:
        """``{"name", "title", "field", "getter"}`` of a ``list_display`` entry."""
        if isinstance(item, str) and self.opts.has_field(item):
            field = self._single_value_field(item, "list_display")
            name = "pk" if field is self.opts.pk_field else field.name
            title = getattr(field, "verbose_name", None) or name.replace("_", " ")
            return {"name": name, "title": title, "field": field, "getter": None}
        getter = getattr(self, item, None) if isinstance(item, str) else item
        if not callable(getter):
            raise ImplementationError(
                f"{type(self).__name__}.list_display: {item!r} is neither a field of "
                f"{self.opts.name} nor a method of the admin."
            )
        name = item if isinstance(item, str) else getattr(item, "__name__", "column")
        title = getattr(getter, "short_description", name.replace("_", " "))
        return {"name": name, "title": title, "field": None, "getter": getter}

    def get_list_display_links(self, columns: list[dict[str, Any]]) -> list[str]:
        """Names of the columns linking to the instance."""
        if self.list_display_links is not None:
            return list(self.list_display_links)
        return [columns[0]["name"]] if columns else []

    def get_ordering(self) -> tuple[str, bool]:
        """``(field name, descending)`` of the default sort."""
        ordering = self.ordering
        if ordering is None:
            return "pk", False
        if not isinstance(ordering, str):
            ordering = next(iter(ordering), "pk")
        name, desc = ordering.lstrip("-"), ordering.startswith("-")
        if not self.is_sortable(name):
            raise ImplementationError(
                f"{type(self).__name__}.ordering: {self.opts.name} cannot be sorted by {name!r} "
                "(only the pk and single-value fields)."
            )
        return name, desc

    def is_sortable(self, name: str) -> bool:
        """Whether the list can be sorted by the column ``name``."""
        if not self.opts.has_field(name):
            return False
        return self.opts.get_field(name).storage_type in SINGLE_VALUE_TYPES

    def sorts_as_numbers(self, name: str) -> bool:
        """Sort the column ``name`` by number (else by text): AutoPK pks and fields with
        a number range index."""
        field = self.opts.get_field(name)
        if field is self.opts.pk_field:
            return bool(field.auto)
        return any(index.kind == "num" for index in field.indexes)

    def get_list_filter(self) -> list[str]:
        """Names of the fields offered as filters."""
        if self.list_filter is not None:
            return list(self.list_filter)
        return [field.name for field in self.opts.data_fields if field.indexes]

    def get_search_fields(self) -> list[str]:
        """Names of the fields searched by prefix."""
        if self.search_fields is not None:
            return list(self.search_fields)
        return [field.name for field in self.opts.data_fields if self.search_lookup(field.name)]

    def search_index(self, name: str) -> Any:
        """The index searching field ``name`` by prefix: one handling ``startswith``,
        a case-insensitive one first (see
        :func:`~django_limpyd.admin.search.folds_case`); ``None`` if none."""
        field = self.opts.get_field(name)
        if field.storage_type == "hash":
            return None
        found = [index for index in field.indexes if "startswith" in index.lookups]
        folding = [index for index in found if folds_case(index)]
        return (folding or found or [None])[0]

    def search_lookup(self, name: str) -> str | None:
        """The ``field[__prefix]__startswith`` filter searching field ``name``, if any."""
        index = self.search_index(name)
        if index is None:
            return None
        prefix = f"__{index.prefix}" if index.prefix else ""
        return f"{name}{prefix}__startswith"

    def search_value(self, name: str, text: str) -> str | None:
        """What field ``name`` is searched with for the typed ``text``: the text through
        its index's transform (lowercased by a case-insensitive index), or ``None``
        when the index does not index it."""
        index = self.search_index(name)
        return index.transform_value(text) if index is not None else text

    # -- instances ------------------------------------------------------------------

    def get_form_fields(self) -> list[str]:
        """Names of the fields of the form (pk excluded; default: every field)."""
        if self.fields is not None:
            return [name for name in self.fields if name != "pk"]
        return [field.name for field in self.opts.data_fields]

    def get_label_field(self) -> str:
        """The field naming an instance."""
        if self.label_field:
            return self.label_field
        for field in self.opts.data_fields:
            if field.unique and field.storage_type in SINGLE_VALUE_TYPES:
                return field.name
        return "pk"

    def object_label(self, pk: str, values: dict[str, Any] | None = None) -> str:
        """How an instance is named: its label field's value, else ``<model> <pk>``."""
        name = self.get_label_field()
        value = (values or {}).get(name) if name != "pk" else None
        if value not in (None, ""):
            return str(value)
        return f"{self.opts.verbose_name} {pk}"

    # -- permissions ----------------------------------------------------------------

    def has_view_permission(self, request: HttpRequest) -> bool:
        """May the user see this model's pages (default: the site's view permission)."""
        return self.site.has_permission(request)

    def has_change_permission(self, request: HttpRequest) -> bool:
        """May the user edit instances (default: the site's change permission)."""
        return self.site.has_change_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """May the user add instances (default: as change)."""
        return self.has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest) -> bool:
        """May the user delete instances (default: as change)."""
        return self.has_change_permission(request)
