"""Issue 19, bullet "Indexed HashField": filters on one entry with limpyd's syntax.

``headers__from="a@b"``: the field, the entry's key, then the index prefix and the
suffix if any (``headers__from__in=[...]``, ``headers__from__startswith="a@"`` with
a TextRangeIndex). The dict form (``headers={"from": "a@b"}``) still works.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

NAMESPACE = "t_parity_hash"


def make_model(database, indexes):
    db = database

    class Email(RedisModel):
        database = db
        namespace = NAMESPACE
        headers = fields.HashField(indexable=True, indexes=indexes)
        subject = fields.StringField(indexable=True)

    return Email


@pytest.fixture(params=["equal", "text"])
def Email(request, database):
    indexes = [EqualIndex] if request.param == "equal" else [TextRangeIndex]
    Email = make_model(database, indexes)
    Email(headers={"from": "foo@bar.com", "to": "me@world.org"}, subject="a")  # 1
    Email(headers={"from": "me@world.org", "to": "foo@bar.com"}, subject="b")  # 2
    Email(headers={"from": "foo@baz.com", "fromage": "foo@bar.com"}, subject="a")  # 3
    Email(headers={"été": "à la plage", "to": "x"}, subject="c")  # 4
    return Email


def pks(collection):
    return sorted(collection, key=int)


def test_parity_hash_filter_on_one_entry(Email):
    assert pks(Email.collection(headers__from="foo@bar.com")) == ["1"]
    assert pks(Email.collection(headers__to="foo@bar.com")) == ["2"]
    assert pks(Email.collection(headers__fromage="foo@bar.com")) == ["3"]
    assert pks(Email.collection(headers__from="nobody")) == []
    assert pks(Email.collection(headers__été="à la plage")) == ["4"]
    assert pks(Email.collection(headers__from__eq="me@world.org")) == ["2"]


def test_parity_hash_filter_in(Email):
    collection = Email.collection(headers__from__in=["foo@bar.com", "foo@baz.com", "x"])
    assert pks(collection) == ["1", "3"]
    assert pks(Email.collection(headers__to__in=iter(["x"]))) == ["4"]
    with pytest.raises(InvalidValue, match="needs a list"):
        Email.collection(headers__from__in="foo@bar.com")


def test_parity_hash_filter_combined_and_with_the_dict_form(Email):
    assert pks(Email.collection(headers__from="foo@bar.com", subject="a")) == ["1"]
    assert pks(Email.collection(headers__from="foo@baz.com", headers__fromage="foo@bar.com")) == [
        "3"
    ]
    assert pks(Email.collection(headers={"from": "foo@bar.com"})) == ["1"]
    assert pks(Email.collection(headers__eq={"to": "x"})) == ["4"]
    assert Email.get(headers__to="me@world.org").pk.get() == "1"
    assert Email.exists(headers__to="x") is True
    assert Email.exists(headers__to="y") is False


def test_parity_hash_filter_startswith_with_a_text_range_index(database):
    Email = make_model(database, [TextRangeIndex])
    Email(headers={"from": "foo@bar.com"})
    Email(headers={"from": "foo@baz.com", "to": "foo@qux.com"})
    Email(headers={"fromage": "foo@bar.com", "from": "bar@foo.com"})
    assert pks(Email.collection(headers__from__startswith="foo@")) == ["1", "2"]
    assert pks(Email.collection(headers__from__startswith="foo@bar")) == ["1"]
    assert pks(Email.collection(headers__to__startswith="foo")) == ["2"]
    assert pks(Email.collection(headers__from__startswith="")) == ["1", "2", "3"]
    assert pks(Email.collection(headers__fromage__startswith="f")) == ["3"]


def test_parity_hash_filter_with_an_index_prefix(database):
    Email = make_model(database, [EqualIndex, TextRangeIndex.configure(prefix="text", key="t")])
    Email(headers={"from": "foo@bar.com"})
    Email(headers={"from": "foo@baz.com"})
    assert pks(Email.collection(headers__from="foo@baz.com")) == ["2"]
    assert pks(Email.collection(headers__from__text="foo@baz.com")) == ["2"]
    assert pks(Email.collection(headers__from__text__startswith="foo")) == ["1", "2"]
    with pytest.raises(ImplementationError, match="headers__from__startswith"):
        Email.collection(headers__from__startswith="foo")  # the EqualIndex has no prefix


def test_parity_hash_filter_ranges_stay_within_the_entry_key(database):
    Email = make_model(database, [TextRangeIndex])
    Email(headers={"from": "b@x", "to": "z@x"})  # 1
    Email(headers={"from": "m@x"})  # 2
    Email(headers={"from": "y@x", "fro": "a@x"})  # 3
    Email(headers={"fromage": "a@x", "to": "a@x"})  # 4
    # each range compares the values of the key "from" only: open bounds do not reach
    # the entries of other keys ("fro", "fromage", "to")
    assert pks(Email.collection(headers__from__gt="m@x")) == ["3"]
    assert pks(Email.collection(headers__from__gte="m@x")) == ["2", "3"]
    assert pks(Email.collection(headers__from__lt="m@x")) == ["1"]
    assert pks(Email.collection(headers__from__lte="m@x")) == ["1", "2"]
    assert pks(Email.collection(headers__from__gt="")) == ["1", "2", "3"]
    assert pks(Email.collection(headers__to__lt="b")) == ["4"]
    assert len(Email.collection(headers__from__gte="c")) == 2  # counted by its index
    # with another filter: the range read in the collection function
    assert pks(Email.collection(headers__from__lt="z", headers__to="z@x")) == ["1"]


def test_parity_hash_filter_errors_name_the_field(database):
    Email = make_model(database, [EqualIndex])
    with pytest.raises(ImplementationError, match=r"Email\.headers.*headers__from__startswith"):
        Email.collection(headers__from__startswith="foo")
    with pytest.raises(InvalidValue, match=r"Email\.headers: None cannot be filtered"):
        Email.collection(headers__from=None)
    with pytest.raises(InvalidValue, match=r"headers__<key>=value, or a dict"):
        Email.collection(headers="foo@bar.com")
    Numbers = make_model(database, [NumberRangeIndex])
    with pytest.raises(ImplementationError, match="indexes its entries as text"):
        Numbers.collection(headers__n__gt=3)
