"""Filters of the list page, built from the indexes of each field.

Every suffix an index handles becomes an input named like the filter it
applies (``city``, ``birth_year__gte``, ``name__startswith``...), so a list URL
reads like the collection it shows. Equality gets choices when they are known:
given by the admin (``list_filter_choices``), or read from the keys of an
:class:`~django_limpyd.indexes.EqualIndex` when the database is small enough
to SCAN (``filter_choices_scan_max_keys``), with how many instances hold each.
Whatever the size of the database, choices cost a fixed number of round trips:
``DBSIZE``, then (small enough) one ``SCAN`` per field in one pipeline, then the
``SCARD`` of every choice in another.
``startswith`` is the search box (``search_fields``). Only names built here are
read from the query string; a bad value is reported and ignored.

Parameters of the page itself start with ``_`` (``_o`` sort, ``_p`` page,
``_q``/``_qf`` search, ``_popup`` a lookup popup), which no field name can.

The search box is :mod:`django_limpyd.admin.search`. Equality counts take the
other active filters and the search into account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.http import QueryDict

from django_limpyd.admin.search import SEARCH_FIELD_PARAM, SEARCH_PARAM, Search
from django_limpyd.client_cluster import client_of_key
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.storage.state import hash_entry_token

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin

__all__ = ["PAGE_PARAMS", "POPUP_PARAM", "FieldFilter", "FilterInput", "Filters", "query_string"]

SORT_PARAM, PAGE_PARAM = "_o", "_p"
#: the list opened in a popup to pick an instance (a related field's lookup)
POPUP_PARAM = "_popup"
#: the parameters of the page that are not filters
PAGE_PARAMS = (SORT_PARAM, PAGE_PARAM, SEARCH_PARAM, SEARCH_FIELD_PARAM, POPUP_PARAM)

#: how each suffix is shown
LABELS = {
    "eq": "is",
    "in": "is one of (one per line)",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "startswith": "starts with",
}
RANGE_SUFFIXES = ("gt", "gte", "lt", "lte")


def query_string(params: QueryDict, **changes: Any) -> str:
    """``?...`` of ``params`` with ``changes`` (``None`` removes a parameter); the page
    number is dropped unless given."""
    result = params.copy()
    changes.setdefault(PAGE_PARAM, None)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        elif isinstance(value, list):
            result.setlist(name, value)
        else:
            result[name] = value
    return "?" + result.urlencode() if result else "?"


@dataclass
class FilterInput:
    """One suffix of one index: the input (or choices) of a filter parameter."""

    param: str
    suffix: str
    label: str
    value: str = ""
    choices: list[dict[str, Any]] | None = None
    error: str = ""
    #: the query string without this parameter (the "All" choice)
    clear_query: str = ""

    @property
    def multiline(self) -> bool:
        """``in`` takes one value per line."""
        return self.suffix == "in"


@dataclass
class FieldFilter:
    """The filters of one field (each suffix of each of its indexes)."""

    name: str
    title: str
    inputs: list[FilterInput] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether one of its parameters is set."""
        return any(item.value for item in self.inputs)

    @property
    def open(self) -> bool:
        """Shown unfolded: active, or with choices to click."""
        return self.active or any(item.choices is not None for item in self.inputs)

    @property
    def groups(self) -> list[tuple[str, list[FilterInput]]]:
        """The inputs in display groups: ``("choices"|"inputs"|"range", inputs)``; the
        comparisons of an index go together."""
        groups: list[tuple[str, list[FilterInput]]] = []
        for item in self.inputs:
            kind = (
                "choices"
                if item.choices is not None
                else "range"
                if item.suffix in RANGE_SUFFIXES
                else "inputs"
            )
            if groups and groups[-1][0] == kind and kind != "choices":
                groups[-1][1].append(item)
            else:
                groups.append((kind, [item]))
        return groups


class Filters:
    """The filters, search box and lookups of one request to a list page."""

    def __init__(self, model_admin: RedisModelAdmin, params: QueryDict) -> None:
        self.admin = model_admin
        self.model = model_admin.model
        self.params = params
        self.lookups: dict[str, Any] = {}
        self.errors: list[str] = []
        #: equality inputs whose choices are read from their index keys: (input, field,
        #: index)
        self._to_scan: list[tuple[FilterInput, Any, Any]] = []
        self.search = Search(model_admin, params)
        self.search_fields, self.search_field = self.search.fields, self.search.field
        self.search_value = self.search.value
        self.lookups.update(self.search.lookups)
        self.errors.extend(self.search.errors)
        self.field_filters = [self._field_filter(name) for name in model_admin.get_list_filter()]
        self._scan_choices()
        self._add_counts()

    # -- building -------------------------------------------------------------------

    def _field_filter(self, name: str) -> FieldFilter:
        meta = self.model._meta
        model_field = meta.get_field(name)
        result = FieldFilter(name=name, title=name.replace("_", " "))
        search_index = self.admin.search_index(name) if name in self.search_fields else None
        handled: set[str] = set()
        # the indexes without prefix first: a prefixed index only adds the suffixes no
        # other index of the field handles (the same filter twice is noise)
        for index in sorted(model_field.indexes, key=lambda index: bool(index.prefix)):
            base = name + (f"__{index.prefix}" if index.prefix else "")
            for suffix in index.lookups:
                if model_field.storage_type == "hash" and suffix != "eq":
                    continue  # entries are filtered as {key: value}, one at a time
                if suffix == "startswith" and index is search_index:
                    continue  # the search box
                if suffix in handled and (index.prefix or index.has_transform):
                    continue  # another index of the field handles it first
                param = base if suffix == "eq" else f"{base}__{suffix}"
                if param in handled:
                    continue
                handled.update((suffix, param))
                label = LABELS.get(suffix, suffix)
                if index.prefix:
                    label = f"{index.prefix}: {label}"
                item = FilterInput(param=param, suffix=suffix, label=label)
                item.clear_query = query_string(self.params, **{param: None})
                self._read(item, model_field)
                if suffix == "eq":
                    item.choices = self._choices(model_field, index, item)
                result.inputs.append(item)
        return result

    def _read(self, item: FilterInput, model_field: Any) -> None:
        """Read the parameter of ``item`` and record its lookup if it is valid."""
        if item.suffix == "in":
            values = [
                line.strip("\r")
                for raw in self.params.getlist(item.param)
                for line in raw.split("\n")
                if line.strip("\r")
            ]
            item.value = "\n".join(values)
            lookup: Any = values
        else:
            item.value = self.params.get(item.param, "")
            lookup = item.value
        if not item.value:
            return
        if model_field.storage_type == "hash":
            key, sep, entry = item.value.partition("=")
            if not sep:
                item.error = f"{model_field.name}: write an entry as key=value."
                self.errors.append(item.error)
                return
            lookup = {key: entry}
        self._add_lookup(item.param, lookup, item)

    def _add_lookup(self, param: str, value: Any, item: FilterInput | None = None) -> None:
        try:
            self.model.collection(**{param: value})  # checks the value, sends nothing
        except (InvalidValue, ImplementationError) as exc:
            message = f"{param}: {exc}"
            if item is not None:
                item.error = message
            self.errors.append(message)
            return
        self.lookups[param] = value

    # -- the collection -------------------------------------------------------------

    def collection(self, exclude: str | None = None) -> Any:
        """The model's collection with these filters and search (but the parameter
        ``exclude``); a search of every field keeps the pks any of them matches (one
        read per field, then their pks are intersected)."""
        lookups = {name: value for name, value in self.lookups.items() if name != exclude}
        collection = self.model.collection(manager=ExtendedCollectionManager, **lookups)
        if self.search.alternatives:
            collection = collection.intersect(self.search.pks())
        return collection

    # -- equality choices -----------------------------------------------------------

    def _choices(self, model_field: Any, index: Any, item: FilterInput) -> Any:
        configured = self.admin.list_filter_choices.get(model_field.name)
        if configured is not None:
            values = configured(self.admin) if callable(configured) else configured
            return self._choice_list(item, {str(value): None for value in values})
        if index.kind == "eq" and not index.prefix and not model_field.unique:
            self._to_scan.append((item, model_field, index))  # all fields at once, later
        return None

    def _choice_list(self, item: FilterInput, keys: dict[str, str | None]) -> list[dict]:
        return [
            {
                "value": value,
                "label": value,
                "key": key,
                "count": None,
                "selected": item.value == value,
                "query": query_string(self.params, **{item.param: value}),
            }
            for value, key in sorted(keys.items())
        ]

    def _scan_choices(self) -> None:
        """The choices of the inputs waiting for them, from their index keys, if the
        database is small enough: ``DBSIZE``, then one ``SCAN`` per field whose
        ``COUNT`` covers the whole database, the SCANs in one round trip. A field
        whose scan did not end in that call (or that has too many values) gets
        none."""
        limit = self.admin.filter_choices_scan_max_keys
        if not self._to_scan or limit <= 0:
            return
        # every key of the model is on the node of its pks (one slot on a cluster)
        connection = client_of_key(self.model._meta.database.connection, self.model._meta.keys.pks)
        if connection.dbsize() > limit:
            return
        pipe = connection.pipeline(transaction=False)
        for _item, _field, index in self._to_scan:
            pattern = self.model._meta.keys.pattern_after(index.storage_base)
            pipe.scan(0, match=pattern, count=limit)
        for (item, model_field, index), (cursor, keys) in zip(
            self._to_scan, pipe.execute(), strict=True
        ):
            if cursor:
                continue  # not over in one call (the database grew meanwhile): none
            found: dict[str, str] = {}
            base = index.storage_base
            for key in keys:
                value = key[len(base) :]
                if model_field.storage_type == "hash":
                    value = _hash_entry_text(value)
                found[value] = key
            if len(found) <= self.admin.filter_choices_max:
                item.choices = self._choice_list(item, found)

    def _add_counts(self) -> None:
        """How many instances hold each scanned choice, with the *other* active filters
        and the search applied (as the Django admin's facets): without them, the size
        of each choice's index set (one round trip for all); with them, one count of
        the filtered collection per choice."""
        choices = [
            (item, choice)
            for field_filter in self.field_filters
            for item in field_filter.inputs
            for choice in item.choices or ()
            if choice["key"] is not None
        ]
        if not choices:
            return
        plain = []
        for item, choice in choices:
            others = self.search.alternatives or any(name != item.param for name in self.lookups)
            if others:
                value = choice["value"]
                if self.model._meta.get_field(item.param.split("__")[0]).storage_type == "hash":
                    key, _sep, entry = value.partition("=")
                    value = {key: entry}
                narrowed = self.collection(exclude=item.param)
                choice["count"] = narrowed(**{item.param: value}).count()
            else:
                plain.append(choice)
        if not plain:
            return
        pipe = self.model._meta.database.connection.pipeline(transaction=False)
        for choice in plain:
            pipe.scard(choice["key"])
        for choice, count in zip(plain, pipe.execute(), strict=True):
            choice["count"] = count

    # -- state ----------------------------------------------------------------------

    @property
    def has_filters(self) -> bool:
        """Whether the sidebar has something to show."""
        return bool(self.field_filters)

    @property
    def active(self) -> bool:
        """Whether a filter or a search applies."""
        return bool(self.lookups or self.search.alternatives)

    def clear_all_query(self) -> str:
        """The query string without any filter nor search."""
        kept = {
            name: self.params.getlist(name)
            for name in (SORT_PARAM, POPUP_PARAM)
            if name in self.params
        }
        return "?" + urlencode(kept, doseq=True)

    def search_hidden(self) -> list[tuple[str, str]]:
        """``(name, value)`` the search form keeps: the filters and the sort."""
        return [
            (name, value)
            for name, values in self.params.lists()
            if name not in (PAGE_PARAM, SEARCH_PARAM, SEARCH_FIELD_PARAM)
            for value in values
        ]

    def filter_hidden(self) -> list[tuple[str, str]]:
        """``(name, value)`` the filter form keeps: sort, search, chosen choices."""
        kept = [
            (name, value)
            for name in (SORT_PARAM, SEARCH_PARAM, SEARCH_FIELD_PARAM, POPUP_PARAM)
            for value in self.params.getlist(name)
        ]
        return kept + [
            (item.param, item.value)
            for field_filter in self.field_filters
            for item in field_filter.inputs
            if item.choices is not None and item.value
        ]


def _hash_entry_text(token: str) -> str:
    """``key=value`` of a HashField index token (``<bytes>:key:value``)."""
    size, _sep, rest = token.partition(":")
    try:
        length = int(size)
    except ValueError:
        return token
    raw = rest.encode()
    key, value = raw[:length].decode(errors="replace"), raw[length + 1 :].decode(errors="replace")
    if hash_entry_token(key, value) != token:
        return token
    return f"{key}={value}"
