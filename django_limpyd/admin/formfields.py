"""Form fields of the admin for the multi-value fields, fed by the row widgets of
:mod:`django_limpyd.admin.widgets`.

Each gives what the model's field writes (``proxy_set``): a list of members or
items, a ``{member: score}`` or a ``{key: value}`` dict. Everything is checked
before anything is written: a member given twice, a key without a value's row
key, a score that is not a number, a value an index refuses... each is an error
naming its row. A field whose inputs are not in the form (``None``) did not
change.
"""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from django_limpyd.admin.widgets import WIDGETS

__all__ = ["MembersField", "PairsField", "rows_formfield"]


class _RowsField(forms.Field):
    """Rows of a multi-value field (``None``: not posted, unchanged)."""

    #: the value of an empty field
    empty: Any = ()

    def __init__(self, *, validators: Any = (), **kwargs: Any) -> None:
        #: the checks of an index, run on each member (key and value of a hash)
        self.item_validators = list(validators)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def check_item(self, row: int, value: str, errors: list[str]) -> None:
        for validator in self.item_validators:
            try:
                validator(value)
            except ValidationError as exc:
                errors.extend(f"Row {row}: {message}" for message in exc.messages)

    def has_changed(self, initial: Any, data: Any) -> bool:
        if data is None:
            return False
        try:
            return self.comparable(self.to_python(initial)) != self.comparable(self.to_python(data))
        except ValidationError:
            return True

    def comparable(self, value: Any) -> Any:
        return value


class MembersField(_RowsField):
    """The members of a ``SetField`` (each once) or the items of a ``ListField`` (in
    order): a list of text."""

    def __init__(self, *, ordered: bool, **kwargs: Any) -> None:
        self.ordered = ordered
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, (set, frozenset)):
            value = sorted(value)
        items = [str(item) for item in value]
        errors: list[str] = []
        seen: set[str] = set()
        for row, item in enumerate(items, 1):
            if not self.ordered:
                if item in seen:
                    errors.append(f"Row {row}: “{item}” is given twice.")
                seen.add(item)
            self.check_item(row, item, errors)
        if errors:
            raise ValidationError(errors, code="invalid")
        return items

    def comparable(self, value: Any) -> Any:
        if value is None:
            return None
        return list(value) if self.ordered else sorted(value)


class PairsField(_RowsField):
    """The entries of a ``HashField`` (``{key: value}``) or the members of a
    ``SortedSetField`` with their scores (``{member: score}``, scores as floats)."""

    def __init__(self, *, scored: bool, **kwargs: Any) -> None:
        self.scored = scored
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        pairs = list(value.items()) if isinstance(value, dict) else [tuple(p) for p in value]
        result: dict[str, Any] = {}
        errors: list[str] = []
        left_name = "member" if self.scored else "key"
        for row, (left, right) in enumerate(pairs, 1):
            left = str(left)
            if left == "" and not self.scored:
                errors.append(f"Row {row}: give a key to the value “{right}”.")
                continue
            if left in result:
                errors.append(f"Row {row}: the {left_name} “{left}” is given twice.")
                continue
            self.check_item(row, left, errors)
            if self.scored:
                score = self.score(row, left, right, errors)
                if score is None:
                    continue
                result[left] = score
            else:
                result[left] = "" if right is None else str(right)
                self.check_item(row, result[left], errors)
        if errors:
            raise ValidationError(errors, code="invalid")
        return result

    def score(self, row: int, member: str, text: Any, errors: list[str]) -> float | None:
        """The score of a row (``None`` and an error if it is not a number)."""
        if isinstance(text, (int, float)):
            return float(text)
        text = str(text or "").strip()
        if not text:
            errors.append(f"Row {row}: give a score to “{member}”.")
            return None
        try:
            number = float(text)
        except ValueError:
            errors.append(f"Row {row}: the score “{text}” of “{member}” is not a number.")
            return None
        if math.isnan(number):
            errors.append(f"Row {row}: a score cannot be NaN.")
            return None
        return number


def rows_formfield(model_field: Any, validators: list[Any], **options: Any) -> forms.Field:
    """The admin's form field of a multi-value field: rows of its Redis type."""
    storage_type = model_field.storage_type
    widget = WIDGETS[storage_type](lookup_url=options.pop("lookup_url", None))
    if storage_type in ("set", "list"):
        return MembersField(
            ordered=storage_type == "list", validators=validators, widget=widget, **options
        )
    return PairsField(
        scored=storage_type == "zset", validators=validators, widget=widget, **options
    )
