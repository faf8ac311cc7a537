"""Shared test vectors of the encodings written twice, once in Python and once in Lua.

Each table gives inputs and the one expected result; ``test_vectors.py`` runs
every vector through the Python code and through the Lua code (``EVAL`` on the
suite's server), and both must give exactly that result.

* number index scores: ``indexes.range.index_number`` and ``number_of``
  (``lua/core.lua``);
* HashField entry tokens: ``storage.state.hash_entry_token`` (and
  ``indexed_raw_values``) and ``indexed_values`` of a ``hash`` state
  (``lua/core.lua``);
* unique-together tokens: ``contrib.indexes.together.together_token`` and the
  ``with`` kind's ``token`` (``contrib/indexes/lua/with.lua``);
* Lua literals: ``storage.protocol.lua_literal``/``lua_string``, read by the
  Lua parser.

Strings with lone surrogates are left out: no ``str`` of a model value holds
them (they cannot be encoded to UTF-8, so Redis never sees them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INF = float("inf")

#: ``(raw value, score)``: a plain decimal number (ASCII digits, optional sign, point
#: and exponent, surrounded by ASCII whitespace) is its float, anything else 0
NUMBER_SCORES: list[tuple[str, float]] = [
    # integers and signs
    ("0", 0.0),
    ("42", 42.0),
    ("-7", -7.0),
    ("+7", 7.0),
    ("007", 7.0),
    ("-0", -0.0),
    ("+0", 0.0),
    # decimals
    ("3.25", 3.25),
    ("-0.5", -0.5),
    (".5", 0.5),
    ("-.5", -0.5),
    ("5.", 5.0),
    ("-5.", -5.0),
    ("0.0", 0.0),
    ("0.1", 0.1),
    ("0.1000000000000000055511151231257827", 0.1),
    # exponents
    ("1e3", 1000.0),
    ("1E3", 1000.0),
    ("1e+2", 100.0),
    ("2.5e-3", 0.0025),
    ("+.5e-3", 0.0005),
    ("5.e2", 500.0),
    ("-.5E1", -5.0),
    ("1e0", 1.0),
    ("1e007", 10_000_000.0),
    # ASCII whitespace around the number
    (" 12 ", 12.0),
    ("\t-3.5\n", -3.5),
    ("\r\n\v\f 8", 8.0),
    ("8 \t\r\n\v\f", 8.0),
    # not a plain decimal number: 0
    ("", 0.0),
    (" ", 0.0),
    ("abc", 0.0),
    ("12abc", 0.0),
    ("abc12", 0.0),
    ("1e", 0.0),
    ("1e+", 0.0),
    ("e5", 0.0),
    (".", 0.0),
    ("-", 0.0),
    ("+", 0.0),
    ("-.", 0.0),
    (".e1", 0.0),
    ("+-1", 0.0),
    ("--1", 0.0),
    ("1.2.3", 0.0),
    ("1..2", 0.0),
    ("1 2", 0.0),
    ("1e5.5", 0.0),
    ("1e5e5", 0.0),
    ("1_000", 0.0),
    ("1,5", 0.0),
    ("0x10", 0.0),
    ("0x1p3", 0.0),
    ("0b101", 0.0),
    ("nan", 0.0),
    ("NaN", 0.0),
    ("inf", 0.0),
    ("-inf", 0.0),
    ("Infinity", 0.0),
    ("1e5 x", 0.0),
    # other whitespace than ASCII's six is not stripped
    ("\x1c5", 0.0),
    ("\u00a012", 0.0),
    ("12\u2003", 0.0),
    ("\u30005", 0.0),
    # non-ASCII digits are not digits
    ("١٢", 0.0),
    ("１２", 0.0),  # noqa: RUF001 - fullwidth digits, on purpose
    ("٣.٥", 0.0),  # noqa: RUF001 - Arabic-Indic digits, on purpose
    ("1٢", 0.0),
    ("²", 0.0),
    # NUL
    ("1\x002", 0.0),
    ("\x00", 0.0),
    ("12\x00", 0.0),
    ("\x0012", 0.0),
    # very long digit strings, out of range exponents
    ("1" * 400, INF),
    ("-" + "9" * 400, -INF),
    ("1" + "0" * 22, 1e22),
    ("9007199254740993", 9007199254740992.0),
    ("123456789012345678901234567890", 1.2345678901234568e29),
    ("0." + "0" * 400 + "1", 0.0),
    ("0." + "3" * 400, 1 / 3),
    ("1" * 400 + "e-399", 1.1111111111111112),
    ("1e400", INF),
    ("-1e400", -INF),
    ("1e-400", 0.0),
    ("4.9e-324", 5e-324),
    ("1.7976931348623157e308", 1.7976931348623157e308),
    ("1e" + "0" * 50 + "3", 1000.0),
]

#: ``({HashField key: value}, tokens)``: each entry of a HashField is indexed as
#: ``"<byte length of key>:key:value"``
HASH_ENTRY_TOKENS: list[tuple[dict[str, str], list[str]]] = [
    ({}, []),
    ({"a": "b"}, ["1:a:b"]),
    ({"": ""}, ["0::"]),
    ({"": "v"}, ["0::v"]),
    ({"k": ""}, ["1:k:"]),
    ({"color": "red", "size": "L"}, ["5:color:red", "4:size:L"]),
    # ':' in keys and values: the length tells where the key ends
    ({"a:b": "c:d", "a": "b:c:d"}, ["3:a:b:c:d", "1:a:b:c:d"]),
    ({"12:ab": "x"}, ["5:12:ab:x"]),
    ({":": ":"}, ["1::::"]),
    # non-ASCII keys: the length counts UTF-8 bytes
    ({"é": "x"}, ["2:é:x"]),
    ({"日本": "語"}, ["6:日本:語"]),
    ({"😀": "1"}, ["4:😀:1"]),
    ({"naïve:é": "ü"}, ["9:naïve:é:ü"]),
    ({"ÿ" * 100: "v"}, ["200:" + "ÿ" * 100 + ":v"]),
    # control characters and NUL
    ({"k\x00": "v\x00"}, ["2:k\x00:v\x00"]),
    ({"a\nb": "c\r\nd"}, ["3:a\nb:c\r\nd"]),
    ({"k" * 1000: "v"}, ["1000:" + "k" * 1000 + ":v"]),
]

#: ``(values, token)``: the indexed field's value, then the other fields' values, as
#: ``"len:value:len:value..."`` (byte lengths)
TOGETHER_TOKENS: list[tuple[list[str], str]] = [
    (["a", "b"], "1:a:1:b"),
    (["", ""], "0::0:"),
    (["a", ""], "1:a:0:"),
    (["", "b"], "0::1:b"),
    (["a", "b", "c"], "1:a:1:b:1:c"),
    (["a:b", "c"], "3:a:b:1:c"),
    (["a", "b:c"], "1:a:3:b:c"),
    (["1:a", "1:b"], "3:1:a:3:1:b"),
    (["::", ":"], "2::::1::"),
    (["é", "ü", "x"], "2:é:2:ü:1:x"),
    (["😀", "日本"], "4:😀:6:日本"),
    (["x\x00", "\x00y"], "2:x\x00:2:\x00y"),
    (["line\nbreak", "tab\t"], "10:line\nbreak:4:tab\t"),
    (["12", "345"], "2:12:3:345"),
    (["a" * 300, "b"], "300:" + "a" * 300 + ":1:b"),
]


class Empty:
    """Lua's empty table, read back: one value for ``{}`` and ``[]``."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Empty)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = Empty()

SAME: Any = object()


@dataclass
class Literal:
    """A Python value written by ``lua_literal``, and what Lua reads back (``SAME``: the
    value itself; lists for tuples, dicts without their ``None`` values, ``EMPTY``)."""

    value: Any
    back: Any = SAME
    note: str = ""

    @property
    def expected(self) -> Any:
        return self.value if self.back is SAME else self.back


STRINGS = [
    "",
    "plain",
    'say "hi"',
    "it's",
    "back\\slash",
    "\\",
    '\\"',
    "\\065",  # a backslash and digits, not an escape
    "nul\x00byte",
    "\x00",
    "\x001",  # NUL then a digit: the escape has three digits
    "\x00\x00\x00",
    "é1",  # a two-byte character then a digit
    "new\nline",
    "\r\n\t\v\f\a\b",
    "\x7f\x1f\x01",
    "é",
    "日本語",
    "😀",
    "ÿ\u0100\uffff",
    "\U0010ffff",
    "]]",
    "[[",
    "]=]",
    "--[[ not a comment",
    "${x} %s %d",
    "x" * 10_000,
    "é" * 5000,
]

LITERALS: list[Literal] = [
    *(Literal(text) for text in STRINGS),
    # numbers
    Literal(0),
    Literal(1),
    Literal(-1),
    Literal(42),
    Literal(2**31),
    Literal(-(2**31)),
    Literal(2**53),
    Literal(-(2**53)),
    Literal(0.5),
    Literal(-0.25),
    Literal(0.1),
    Literal(1 / 3),
    Literal(1e300),
    Literal(-1e-300),
    Literal(5e-324),
    Literal(1.7976931348623157e308),
    Literal(-0.0),
    Literal(3.0),
    # booleans
    Literal(True),
    Literal(False),
    # containers
    Literal([], EMPTY),
    Literal({}, EMPTY),
    Literal((), EMPTY),
    Literal(["a", "b"]),
    Literal(("a", "b"), ["a", "b"]),
    Literal([1, "x", True, False, 0.5]),
    Literal([[]], [EMPTY]),
    Literal([[[["deep"]]]]),
    Literal({"a": 1, "b": [1, 2]}),
    Literal({"skip": None, "keep": 1}, {"keep": 1}),
    Literal({"only": None}, EMPTY),
    Literal({"1": "a string key that looks like a number"}),
    Literal({"": "empty key", "key with space": "v", "é": "ü", "a\x00b": "nul key"}),
    Literal({'q"k': 'q"v', "b\\k": "b\\v", "n\nk": "n\nv"}),
    Literal(
        {
            "fields": [
                {"name": "name", "type": "hfield", "multi": False, "indexes": []},
                {
                    "name": "tags",
                    "type": "set",
                    "multi": True,
                    "indexes": [{"id": "tags/0", "kind": "eq", "unique": False, "deps": []}],
                },
            ],
            "hash": "{shop:Person}:h:",
            "referrers": [],
        }
    ),
    Literal(list(range(1000))),
    Literal({f"k{n}": n for n in range(300)}),
]

#: values that ``lua_literal`` writes but Lua does not read back equal (the
#: disagreements found; ``back``: what Lua gives instead, or the error)
#: values Lua would read back as something else: ``lua_literal`` refuses them
LITERAL_DISAGREEMENTS: list[Literal] = [
    Literal(
        2**53 + 1,
        note="written as 9007199254740993; Lua numbers are doubles: read back 9007199254740992",
    ),
    Literal(10**400, note="written as 401 digits; Lua reads inf"),
    Literal(
        float("inf"),
        note="written as the name inf: Lua reads a global variable "
        "(error: Script attempted to access nonexistent global variable 'inf')",
    ),
    Literal(float("-inf"), note="written as -inf: same error as inf"),
    Literal(float("nan"), note="written as nan: same error as inf"),
]

#: ``(text, literal)``: what ``lua_string`` writes (plain ASCII, ``\ddd`` escapes)
LUA_STRINGS: list[tuple[str, str]] = [
    ("", '""'),
    ("plain text", '"plain text"'),
    ('say "hi"', '"say \\034hi\\034"'),
    ("back\\slash", '"back\\092slash"'),
    ("nul\x00", '"nul\\000"'),
    ("\x001", '"\\0001"'),
    ("new\nline", '"new\\010line"'),
    ("\x7f", '"\\127"'),
    ("é", '"\\195\\169"'),
    ("😀", '"\\240\\159\\152\\128"'),
    ("~", '"~"'),
]
