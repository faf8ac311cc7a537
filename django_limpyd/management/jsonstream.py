"""Reading the items of a JSON array one at a time, from a text stream (stdlib only).

``limpyd_load`` reads files written by ``limpyd_dump``: one JSON array of objects,
possibly bigger than memory should hold. :func:`iter_array` reads the stream in
blocks and decodes each item with ``json.JSONDecoder.raw_decode`` as soon as the
buffer holds it whole, keeping only the current item's text (a block grows, doubling,
only while one item is longer than it). An item is taken once what follows it is
in the buffer (or the stream ends), so a number cut by a block boundary is never
taken for a shorter one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["JSONStreamError", "NotAnArray", "iter_array"]

#: how many characters are read at a time
READ_SIZE = 1 << 16

_WHITESPACE = " \t\n\r"

#: what a JSON text starting with this character is, for messages
_KINDS = {"{": "dict", '"': "str", "t": "bool", "f": "bool", "n": "NoneType"}


class JSONStreamError(ValueError):
    """The stream is not valid JSON; the message gives the character where it fails."""


class NotAnArray(ValueError):
    """The stream holds valid JSON, or none at all, but not an array (``kind``: what
    it starts with)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"expected a list of objects (as written by limpyd_dump), got {kind}")
        self.kind = kind


class _Reader:
    """A buffer over ``stream``: ``text[pos:]`` is what is not consumed yet."""

    def __init__(self, stream: IO[str], read_size: int) -> None:
        self.stream = stream
        self.read_size = read_size
        self.text = ""
        self.pos = 0
        self.consumed = 0  # characters dropped before ``text``
        self.eof = False

    def fill(self, at_least: int = 0) -> bool:
        """Read a block (or more: ``at_least`` characters); False at the end."""
        if self.eof:
            return False
        data = self.stream.read(max(self.read_size, at_least))
        if not data:
            self.eof = True
            return False
        if self.pos:  # drop what is consumed
            self.consumed += self.pos
            self.text, self.pos = self.text[self.pos :], 0
        self.text += data
        return True

    def peek(self) -> str:
        """The next character that is not whitespace (``""`` at the end)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def error(self, message: str, offset: int | None = None) -> JSONStreamError:
        at = self.consumed + (self.pos if offset is None else offset)
        return JSONStreamError(f"{message} at character {at}")


def _maybe_cut(item: Any, text: str, end: int) -> bool:
    """Whether an item decoded up to ``end`` may be the start of a longer one: the text
    ends right after it, or a number is followed by what a number may go on with
    (``1.5e`` cut from ``1.5e3`` decodes as ``1.5``)."""
    rest = text[end:].lstrip(_WHITESPACE)
    if not rest:
        return True
    is_number = isinstance(item, (int, float)) and not isinstance(item, bool)
    return is_number and rest[0] not in ",]"


def iter_array(stream: IO[str], read_size: int | None = None) -> Iterator[Any]:
    """The items of the JSON array in ``stream``, decoded one at a time, reading
    ``read_size`` characters at a time (default :data:`READ_SIZE`).

    ``NotAnArray`` if the stream holds something else; ``JSONStreamError`` (naming
    the character) where it is not valid JSON, raised when the reading gets there
    (the items before it were given).
    """
    decoder = json.JSONDecoder()
    reader = _Reader(stream, read_size or READ_SIZE)
    first = reader.peek()
    if first != "[":
        kind = "nothing" if not first else _KINDS.get(first, "number")
        raise NotAnArray(kind)
    reader.pos += 1
    expect_item = True  # after '[' or ','
    started = False
    while True:
        char = reader.peek()
        if not char:
            raise reader.error("unexpected end of the array")
        if char == "]" and not (started and expect_item):
            reader.pos += 1
            if reader.peek():
                raise reader.error("extra data after the array")
            return
        if not expect_item:
            if char != ",":
                raise reader.error("expected ',' or ']'")
            reader.pos += 1
            expect_item = True
            continue
        while True:
            try:
                item, end = decoder.raw_decode(reader.text, reader.pos)
            except json.JSONDecodeError as exc:
                if reader.fill(at_least=len(reader.text)):
                    continue  # the item may be cut by the end of the buffer
                raise reader.error(exc.msg, exc.pos) from None
            if _maybe_cut(item, reader.text, end) and reader.fill(at_least=len(reader.text)):
                continue  # it may go on in the next block
            break
        reader.pos = end
        started, expect_item = True, False
        yield item
