"""Filter backends: query parameters as index lookups, and ``?ordering=``.

:class:`RedisFilterBackend` reads every query parameter naming a field of the
model: ``?city=Paris``, ``?birth_year__gte=1960``, ``?name__startswith=A``,
``?tags__in=a,b`` (commas separate the values of ``__in``), ``?pk__in=1,2``.
Repeating a parameter and-s its values (``?tags=a&tags=b``: both tags). A
filter the field's indexes cannot serve (a field without index, a suffix no
index handles, a value a number index cannot compare) is a 400 naming the
model, the field and the lookup, before anything is sent. Other parameters
(pagination, format...) are left alone. ``filterset_fields`` on the view
restricts the filters: a list of field names, or a dict of field name to the
suffixes allowed (``{"birth_year": ["gte", "lte"]}``; ``eq`` is the bare name).

:class:`RedisOrderingFilter` sorts by single-value fields or the pk, as
``order_by()`` does: ``?ordering=name``, ``?ordering=-birth_year`` (descending),
``?ordering=-birth_year,name`` (several fields: equal values sorted by the next
one). Fields with a NumberRangeIndex, and AutoPKField pks, sort as numbers;
others as text. ``ordering_fields`` on the view restricts the fields,
``ordering`` (a name or a list) gives the default. Sorting is done by the
collection function, in the same round trip as the page; detail routes are not
sorted.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.settings import api_settings

from django_limpyd.exceptions import ImplementationError, InvalidValue

__all__ = ["RedisFilterBackend", "RedisOrderingFilter"]

#: the attributes of DRF's paginators naming their query parameters
PAGINATION_PARAMS = (
    "page_query_param",
    "page_size_query_param",
    "cursor_query_param",
    "limit_query_param",
    "offset_query_param",
)


def _reserved(view: Any) -> set[str]:
    """The query parameters of the view's paginator and ordering, and ``format``."""
    names = {api_settings.URL_FORMAT_OVERRIDE, api_settings.ORDERING_PARAM}
    paginator = getattr(view, "paginator", None)
    for attr in PAGINATION_PARAMS:
        value = getattr(paginator, attr, None)
        if value:
            names.add(value)
    return names


class RedisFilterBackend(BaseFilterBackend):
    """Query parameters naming a model field become collection filters."""

    def get_filters(self, request: Request, model: type, view: Any) -> list[tuple[str, Any]]:
        """``(filter, value)`` pairs from the query string (values of ``__in`` as lists);
        a 400 for a filter the view does not allow."""
        meta = model._meta
        reserved = _reserved(view)
        allowed = getattr(view, "filterset_fields", None)
        filters: list[tuple[str, Any]] = []
        errors: dict[str, list[str]] = {}
        for param in request.query_params:
            name, _, rest = param.partition("__")
            if param in reserved or not meta.has_field(name):
                continue
            field = meta.get_field(name)
            if allowed is not None:
                suffixes = allowed.get(name) if isinstance(allowed, dict) else None
                if name not in allowed or (suffixes is not None and (rest or "eq") not in suffixes):
                    errors[param] = [f"Filtering {meta.name} on {param!r} is not allowed."]
                    continue
            if field.storage_type == "hash":
                errors[param] = [
                    f"{field.describe()} is a HashField: its entries cannot be filtered from "
                    "query parameters."
                ]
                continue
            values = request.query_params.getlist(param)
            if param.rpartition("__")[2] == "in" and "__" in param:
                filters.append((param, [item for value in values for item in value.split(",")]))
            else:
                filters.extend((param, value) for value in values)
        if errors:
            raise ValidationError(errors)
        return filters

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        """The collection with the filters of the query string (nothing is sent)."""
        errors: dict[str, list[str]] = {}
        for param, value in self.get_filters(request, queryset.model, view):
            try:
                queryset = queryset(**{param: value})
            except (ImplementationError, InvalidValue) as exc:
                errors.setdefault(param, []).append(str(exc))
        if errors:
            raise ValidationError(errors)
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """One OpenAPI query parameter per indexed field and suffix."""
        try:
            model = view.get_model()
        except Exception:  # a view without model: no parameters
            return []
        parameters = []
        for field in model._meta.data_fields:
            for index in field.indexes:
                for suffix in sorted(index.lookups):
                    parts = [field.name, index.prefix, None if suffix == "eq" else suffix]
                    name = "__".join(part for part in parts if part)
                    parameters.append(
                        {
                            "name": name,
                            "required": False,
                            "in": "query",
                            "description": f"{field.describe()} ({suffix})",
                            "schema": {"type": "string"},
                        }
                    )
        return parameters


class RedisOrderingFilter(BaseFilterBackend):
    """``?ordering=field`` / ``?ordering=-field`` / ``?ordering=-year,title``: the
    collection sorted as ``order_by(...)`` sorts it."""

    ordering_param = api_settings.ORDERING_PARAM

    def get_ordering(self, request: Request, view: Any) -> list[str]:
        """The requested ordering (comma-separated fields), else the view's ``ordering``
        (a name or a list of names); ``[]``: not sorted."""
        value = request.query_params.get(self.ordering_param, "")
        terms = [term.strip() for term in value.split(",") if term.strip()]
        if terms:
            return terms
        default = getattr(view, "ordering", None)
        if isinstance(default, str):
            return [default]
        return list(default or [])

    def sortable(self, model: type, view: Any) -> list[str]:
        """The names one may order by: the view's ``ordering_fields``, else the pk and
        every single-value field."""
        names = getattr(view, "ordering_fields", None)
        if names is not None and names != "__all__":
            return list(names)
        names = ["pk"] + [
            name
            for name, field in model._meta.fields.items()
            if field.storage_type in ("pk", "string", "hfield")
        ]
        return list(dict.fromkeys(names))

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        """The collection sorted as asked, by ``order_by(*fields)`` (nothing is sent); as
        it is on the detail routes of a viewset, where one instance is looked up."""
        ordering = self.get_ordering(request, view)
        if not ordering or getattr(view, "detail", False):
            return queryset
        model = queryset.model
        meta = model._meta
        sortable = self.sortable(model, view)
        for term in ordering:
            name = term[1:] if term.startswith("-") else term
            if name in sortable:
                continue
            if not meta.has_field(name):
                reason = f"{meta.name} has no field {name!r}"
            elif meta.get_field(name).multi:
                reason = f"{meta.get_field(name).describe()} holds several values"
            else:
                reason = "it is not in ordering_fields"
            self.fail(
                f"Cannot order {meta.name} by {name!r}: {reason} (allowed: {', '.join(sortable)})."
            )
        try:
            return queryset.order_by(*ordering)
        except ImplementationError as exc:
            self.fail(str(exc))

    def fail(self, message: str) -> None:
        """A 400 about the ordering parameter."""
        raise ValidationError({self.ordering_param: [message]})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """The OpenAPI ``ordering`` parameter."""
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Fields to order by, comma-separated (equal values sorted by the next "
                    "field); prefix one with '-' for descending."
                ),
                "schema": {"type": "string"},
            }
        ]
