"""Widgets of the admin's change and add pages for the multi-value fields and the
related fields.

A multi-value field is edited as rows of inputs, one template per Redis type
(``django_limpyd/widgets/<type>.html``): a set's members, a list's items with
their position, a sorted set's members with their scores, a hash's keys with
their values. Every row has a "remove" checkbox and the widget ends with a
blank row to add one; a small script (``django_limpyd/admin.js``) adds more
blank rows and moves list items up and down, but the widgets work without it
(the positions of a list are number inputs). Inputs are named ``<field>`` (the
first column), ``<field>__<column>`` (the others), ``<field>__remove`` (the
indexes of the rows to drop) and ``<field>__order`` (a list's positions).

A raw-id input (``RawIdWidget``) takes the pk of an instance of the target
model of a related field, with a lookup link opening the target's list in a
popup, as the Django admin's ``raw_id_fields`` (its own
``RelatedObjectLookups.js`` does the popup).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

__all__ = [
    "HashWidget",
    "ListWidget",
    "RawIdWidget",
    "RowsWidget",
    "SetWidget",
    "SortedSetWidget",
]

#: the scripts of the lookup popups (Django admin's)
LOOKUP_JS = (
    "admin/js/vendor/jquery/jquery.js",
    "admin/js/jquery.init.js",
    "admin/js/admin/RelatedObjectLookups.js",
)


class RowsWidget(forms.Widget):
    """Rows of inputs: ``columns`` names them (the first one is the widget's name).

    ``value_from_datadict`` gives the rows kept, in order (a list of values for one
    column, of tuples for two), without the removed and the blank ones; ``None``
    when the form has none of the widget's inputs (the field was not on the page:
    unchanged).
    """

    template_name = "django_limpyd/widgets/rows.html"
    #: the Redis type (the template of the rows)
    type: ClassVar[str] = ""
    #: ``(column, label)`` of each input of a row
    columns: ClassVar[tuple[tuple[str, str], ...]] = (("value", "Value"),)
    #: list items have a position
    ordered: ClassVar[bool] = False
    #: blank rows after the values
    extra = 1

    def __init__(self, attrs: dict[str, Any] | None = None, lookup_url: str | None = None) -> None:
        super().__init__(attrs)
        #: the target list of a related field, for a lookup link per row
        self.lookup_url = lookup_url

    @property
    def media(self) -> forms.Media:  # type: ignore[override]
        return forms.Media(js=LOOKUP_JS if self.lookup_url else ())

    def input_name(self, name: str, column: str) -> str:
        """The name of the inputs of ``column``."""
        return name if column == self.columns[0][0] else f"{name}__{column}"

    def rows_of(self, value: Any) -> list[tuple[str, ...]]:
        """The rows of a value (a list, a dict, or rows as posted)."""
        if value is None:
            return []
        if isinstance(value, dict):
            return [(str(left), self.format_right(right)) for left, right in value.items()]
        rows = []
        for item in value:
            if isinstance(item, (list, tuple)):
                rows.append(tuple(str(cell) for cell in item))
            else:
                rows.append((str(item),))
        return rows

    def format_right(self, right: Any) -> str:
        """The text of the second column."""
        return "" if right is None else str(right)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, None, attrs)
        widget_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        rows = self.rows_of(value) + [("",) * len(self.columns)] * self.extra
        shaped = []
        for index, cells in enumerate(rows):
            shaped.append(
                {
                    "index": index,
                    "position": index + 1,
                    "blank": not any(cells),
                    "cells": [
                        {
                            "name": self.input_name(name, column),
                            "column": column,
                            "label": label,
                            "value": cells[number] if number < len(cells) else "",
                            "id": f"{widget_id}_{index}_{column}",
                            "multiline": "\n" in (cells[number] if number < len(cells) else ""),
                        }
                        for number, (column, label) in enumerate(self.columns)
                    ],
                }
            )
        context["widget"].update(
            type=self.type,
            id=widget_id,
            rows=shaped,
            columns=self.columns,
            ordered=self.ordered,
            remove_name=f"{name}__remove",
            order_name=f"{name}__order",
            lookup_url=self.lookup_url,
        )
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if self.value_omitted_from_data(data, files, name):
            return None
        columns = [data.getlist(self.input_name(name, column)) for column, _ in self.columns]
        count = max(len(cells) for cells in columns)
        removed = set(data.getlist(f"{name}__remove"))
        positions = data.getlist(f"{name}__order") if self.ordered else []
        rows = []
        for index in range(count):
            cells = tuple(cells[index] if index < len(cells) else "" for cells in columns)
            if str(index) in removed or not any(cells):
                continue
            rows.append((_position(positions, index), index, cells))
        if self.ordered:
            rows.sort(key=lambda row: (row[0], row[1]))
        if len(self.columns) == 1:
            return [cells[0] for _position_, _index, cells in rows]
        return [cells for _position_, _index, cells in rows]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return not any(self.input_name(name, column) in data for column, _ in self.columns)

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0_{self.columns[0][0]}" if id_ else id_


def _position(positions: list[str], index: int) -> float:
    """The position typed for row ``index`` (its place if none or not a number)."""
    try:
        return float(positions[index])
    except (IndexError, ValueError):
        return float(index + 1)


class SetWidget(RowsWidget):
    """The members of a ``SetField``."""

    type = "set"
    columns = (("value", "Member"),)


class ListWidget(RowsWidget):
    """The items of a ``ListField`` with their position (up/down buttons with JS)."""

    type = "list"
    columns = (("value", "Item"),)
    ordered = True


class SortedSetWidget(RowsWidget):
    """The members of a ``SortedSetField`` with their scores."""

    type = "zset"
    columns = (("value", "Member"), ("score", "Score"))

    def format_right(self, right: Any) -> str:
        if isinstance(right, float) and right.is_integer() and abs(right) < 2**53:
            return str(int(right))
        return "" if right is None else str(right)


class HashWidget(RowsWidget):
    """The entries of a ``HashField``: keys and values."""

    type = "hash"
    columns = (("key", "Key"), ("value", "Value"))


class RawIdWidget(forms.TextInput):
    """The pk of an instance of the target model, with a lookup link to its list in
    a popup (as the Django admin's ``raw_id_fields``)."""

    template_name = "django_limpyd/widgets/raw_id.html"

    def __init__(self, lookup_url: str | None, target_label: str, attrs: Any = None) -> None:
        super().__init__({"class": "vForeignKeyRawIdAdminField", **(attrs or {})})
        self.lookup_url = lookup_url
        self.target_label = target_label

    @property
    def media(self) -> forms.Media:  # type: ignore[override]
        return forms.Media(js=LOOKUP_JS)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"].update(lookup_url=self.lookup_url, target_label=self.target_label)
        return context


WIDGETS: dict[str, type[RowsWidget]] = {
    widget.type: widget for widget in (SetWidget, ListWidget, SortedSetWidget, HashWidget)
}
