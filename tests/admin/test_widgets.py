"""The row widgets of the multi-value fields and their form fields, without a page:
what a posted form gives, what is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from django_limpyd.admin.formfields import MembersField, PairsField
from django_limpyd.admin.widgets import HashWidget, ListWidget, SetWidget, SortedSetWidget


def posted(**lists):
    data = QueryDict(mutable=True)
    for name, values in lists.items():
        data.setlist(name, values)
    return data


def test_a_set_without_removed_and_blank_rows():
    data = posted(tags=["a", "b", "", "c"], tags__remove=["1"])
    assert SetWidget().value_from_datadict(data, {}, "tags") == ["a", "c"]


def test_a_list_in_the_positions_typed():
    """Without JavaScript, positions are typed: rows are sorted by them (ties and
    a position that is not a number is the row's place)."""
    data = posted(ch=["a", "b", "c", "d"], ch__order=["3", "1", "x", "1"], ch__remove=[])
    assert ListWidget().value_from_datadict(data, {}, "ch") == ["b", "d", "a", "c"]


def test_pairs_keep_empty_second_columns():
    data = posted(h=["k", "", "x"], h__value=["", "", "1"])
    assert HashWidget().value_from_datadict(data, {}, "h") == [("k", ""), ("x", "1")]


def test_a_widget_not_posted_is_none():
    assert SortedSetWidget().value_from_datadict(posted(other=["1"]), {}, "r") is None
    assert SortedSetWidget().value_omitted_from_data(posted(), {}, "r")


def test_rendered_rows_and_label():
    html = SortedSetWidget().render("r", {"a": 1.0, "b": 2.5}, {"id": "id_r"})
    assert 'name="r" value="a"' in html and 'name="r__score" value="1"' in html
    assert 'name="r__score" value="2.5"' in html
    assert SortedSetWidget().id_for_label("id_r") == "id_r_0_value"


def test_members_field():
    field = MembersField(ordered=False)
    assert field.clean(["b", "a"]) == ["b", "a"]
    with pytest.raises(ValidationError) as error:
        field.clean(["a", "a"])
    assert error.value.messages == ["Row 2: “a” is given twice."]
    assert not field.has_changed(["a", "b"], ["b", "a"])  # a set: no order
    assert MembersField(ordered=True).has_changed(["a", "b"], ["b", "a"])
    assert not field.has_changed(["a"], None)  # not posted


def test_scored_pairs_field():
    field = PairsField(scored=True)
    assert field.clean([("a", "1"), ("b", " -2e1 ")]) == {"a": 1.0, "b": -20.0}
    with pytest.raises(ValidationError) as error:
        field.clean([("a", "x"), ("b", ""), ("a", "1"), ("c", "nan")])
    assert error.value.messages == [
        "Row 1: the score “x” of “a” is not a number.",
        "Row 2: give a score to “b”.",
        "Row 4: a score cannot be NaN.",
    ]
    assert not field.has_changed({"a": 1.0}, [("a", "1")])


def test_item_validators_name_the_row():
    def no_x(value):
        if "x" in value:
            raise ValidationError("no x here")

    with pytest.raises(ValidationError) as error:
        PairsField(scored=False, validators=[no_x]).clean([("k", "v"), ("k2", "vx")])
    assert error.value.messages == ["Row 2: no x here"]
