"""The search box of the list page: values *starting with* the typed text.

A field is searched with the ``startswith`` lookup of one of its text range
indexes, a case-insensitive one first: an index whose ``transform`` lowercases
(``str.lower``, ``str.casefold``; see :func:`folds_case`), the text then going
through the same transform. The box searches one field (``_qf``) or, with several
search fields and none chosen, every one of them: an instance matches when any
does (one read of the matching pks per field, that the list then intersects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import QueryDict

from django_limpyd.exceptions import ImplementationError, InvalidValue

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin

__all__ = ["SEARCH_FIELD_PARAM", "SEARCH_PARAM", "Search", "folds_case"]

SEARCH_PARAM, SEARCH_FIELD_PARAM = "_q", "_qf"


def folds_case(index: Any) -> bool:
    """Whether ``index`` stores its values lowercased, character by character (a
    ``transform`` like ``str.lower`` or ``str.casefold``): then a prefix typed in any
    case, passed through the transform, finds every value starting with it."""
    if index is None or not index.has_transform:
        return False
    try:
        return index.transform_value("AbÇ") == "abç" and index.transform_value("Ab") == "ab"
    except Exception:  # a transform made for other values (a date's year...)
        return False


class Search:
    """The search of one request: the field chosen (``""``: every one), the text, and
    what it filters: one lookup (:attr:`lookups`) or, for every field,
    :attr:`alternatives` whose pks are read by :meth:`pks`."""

    def __init__(self, model_admin: RedisModelAdmin, params: QueryDict) -> None:
        self.admin = model_admin
        self.model = model_admin.model
        self.fields = model_admin.get_search_fields()
        self.lookups: dict[str, str] = {}
        #: ``(lookup, value)`` of each field a search of every field looks in
        self.alternatives: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self._pks: set[str] | None = None
        self.field, self.value = "", params.get(SEARCH_PARAM, "")
        if not self.fields:
            self.field, self.value = None, ""
            return
        name = params.get(SEARCH_FIELD_PARAM, "")
        if name not in self.fields:
            name = "" if len(self.fields) > 1 else self.fields[0]
        self.field = name
        if self.value:
            self._read([name] if name else self.fields)

    def _read(self, names: list[str]) -> None:
        found = []
        for name in names:
            lookup = self.admin.search_lookup(name)
            searched = self.admin.search_value(name, self.value)
            if lookup is None or searched is None:
                continue
            try:
                self.model.collection(**{lookup: searched})  # checks the value, sends nothing
            except (InvalidValue, ImplementationError) as exc:
                self.errors.append(f"{name}: {exc}")
                continue
            found.append((lookup, searched))
        if len(found) == 1:
            self.lookups = dict(found)
        else:
            self.alternatives = found

    @property
    def help(self) -> list[dict[str, Any]]:
        """``name`` and ``folds_case`` (any case) of each search field."""
        return [
            {"name": name, "folds_case": folds_case(self.admin.search_index(name))}
            for name in self.fields
        ]

    def pks(self) -> set[str]:
        """The pks a search of every field matches (read once, one call per field)."""
        if self._pks is None:
            self._pks = set()
            for lookup, value in self.alternatives:
                self._pks.update(self.model.collection(**{lookup: value}))
        return self._pks
