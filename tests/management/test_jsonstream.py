"""``iter_array``: the items of a JSON array read from a stream one at a time, whatever
the block size (items and numbers cut by block boundaries)."""

from __future__ import annotations

import io
import json
import random

import pytest

from django_limpyd.management.jsonstream import JSONStreamError, NotAnArray, iter_array

ITEMS = [
    {"model": "a.b", "pk": "1", "fields": {"x": "é" * 40, "y": ["1", "2"]}},
    12345678,
    -1.5e10,
    1e-7,
    's"tr',
    [1, [2, {}]],
    None,
    True,
    False,
    {},
    [],
]


@pytest.mark.parametrize("read_size", [1, 2, 3, 7, 64, None])
def test_items_whatever_the_block_size(read_size):
    rng = random.Random(read_size)
    for _ in range(40):
        data = [rng.choice(ITEMS) for _ in range(rng.randint(0, 25))]
        text = json.dumps(data, indent=rng.choice([None, 1]), ensure_ascii=False)
        assert list(iter_array(io.StringIO(text), read_size)) == data


def test_items_come_before_the_end_is_read():
    stream = io.StringIO('[{"a": 1}, {"b": 2}, nope')
    items = iter_array(stream, 4)
    assert next(items) == {"a": 1}
    assert next(items) == {"b": 2}
    with pytest.raises(JSONStreamError, match="Expecting value at character 21"):
        next(items)


@pytest.mark.parametrize(
    "text", ["[1,]", "[1 2]", "[", "[1", '[{"a": }]', "[1] x", "[,1]", "[1.5e]", "[1x]", "[tru]"]
)
@pytest.mark.parametrize("read_size", [1, 4, 100])
def test_invalid_json(text, read_size):
    with pytest.raises(JSONStreamError, match="at character"):
        list(iter_array(io.StringIO(text), read_size))


@pytest.mark.parametrize(
    ("text", "kind"), [("{}", "dict"), ("", "nothing"), ("  12", "number"), ('"x"', "str")]
)
def test_not_an_array(text, kind):
    with pytest.raises(NotAnArray, match=f"expected a list of objects.*got {kind}"):
        list(iter_array(io.StringIO(text)))
