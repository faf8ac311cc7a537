"""Form fields for the multi-value Redis fields holding pairs: a ``HashField`` (entries
``key=value``) and a ``SortedSetField`` (members ``member=score``).

Both are text areas with one pair per line (empty lines ignored), generic enough for
any view; the admin may give them richer widgets (``Meta.widgets`` /
``formfield_for(..., widget=)``). A line splits at its first ``=`` for a hash (a key
cannot hold ``=``, a value can) and at its last ``=`` for a sorted set (a member can
hold ``=``, a score cannot). A hash may also be typed as a JSON object of strings
(text starting with ``{``), which takes any key.

``to_python`` gives what the model's constructor and the field's writes take: a
``dict`` (``{key: value}``, ``{member: score}``), empty when nothing was typed.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

__all__ = ["EntriesField", "PairsField", "ScoredMembersField"]


class PairsField(forms.CharField):
    """One ``left=right`` pair per line, as a ``dict`` (subclasses say how a line
    splits and what the right side is); validators apply to the left sides."""

    widget = forms.Textarea(attrs={"rows": 4})
    #: what a line looks like, for error messages
    line_format = "left=right"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)

    def split(self, line: str) -> tuple[str, Any]:
        """The pair of one line (``ValueError``: not a pair)."""
        raise NotImplementedError

    def render(self, left: str, right: Any) -> str:
        """One line of a pair."""
        return f"{left}={right}"

    def pairs_of(self, value: Any) -> list[tuple[str, Any]]:
        """The pairs of an initial value (a dict, or a list of pairs)."""
        if isinstance(value, dict):
            return list(value.items())
        return [tuple(pair) for pair in value]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list, tuple)):
            return "\n".join(self.render(left, right) for left, right in self.pairs_of(value))
        return value

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, (dict, list, tuple)):
            return dict(self.pairs_of(value))
        text = super().to_python(value) or ""
        return self.parse(text)

    def parse(self, text: str) -> dict[str, Any]:
        """The pairs of the typed text, one per line."""
        result: dict[str, Any] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                left, right = self.split(line)
            except ValueError as exc:
                raise ValidationError(
                    f"Line {number}: {exc} (one {self.line_format} per line).",
                    code="invalid",
                ) from None
            if left in result:
                raise ValidationError(f"Line {number}: {left!r} is given twice.", code="invalid")
            result[left] = right
        return result

    def run_validators(self, value: Any) -> None:
        for left in value:
            super().run_validators(left)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial or {}) != self.to_python(data)
        except ValidationError:
            return True


class EntriesField(PairsField):
    """The entries of a ``HashField``: ``key=value`` lines (or a JSON object)."""

    line_format = "key=value"

    def split(self, line: str) -> tuple[str, str]:
        key, sign, value = line.partition("=")
        if not sign:
            raise ValueError(f"no '=' in {line!r}")
        if not key:
            raise ValueError(f"no key before '=' in {line!r}")
        return key, value

    def run_validators(self, value: Any) -> None:
        for key, entry in value.items():
            forms.CharField.run_validators(self, key)
            forms.CharField.run_validators(self, entry)

    def parse(self, text: str) -> dict[str, Any]:
        if not text.lstrip().startswith("{"):
            return super().parse(text)
        try:
            entries = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"Not a JSON object: {exc}.", code="invalid") from None
        if not isinstance(entries, dict) or not all(
            isinstance(item, str) for item in entries.values()
        ):
            raise ValidationError("Give a JSON object of strings.", code="invalid")
        return entries


class ScoredMembersField(PairsField):
    """The members of a ``SortedSetField`` with their scores: ``member=score`` lines
    (shown by increasing score)."""

    line_format = "member=score"

    def split(self, line: str) -> tuple[str, float]:
        member, sign, score = line.rpartition("=")
        if not sign:
            raise ValueError(f"no '=' in {line!r}")
        try:
            number = float(score)
        except ValueError:
            raise ValueError(f"the score {score.strip()!r} is not a number") from None
        if math.isnan(number):
            raise ValueError("a score cannot be NaN")
        return member, number

    def render(self, left: str, right: Any) -> str:
        number = float(right)
        exact = number.is_integer() and abs(number) < 2**53
        return f"{left}={int(number) if exact else number!r}"
