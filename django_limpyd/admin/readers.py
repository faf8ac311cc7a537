"""Reading keys for display: one small reader per Redis type.

A reader queues its read commands on a pipeline, so that a page reads all it
shows in one round trip, then shapes the replies for its type's template
include (``django_limpyd/types/<type>.html``). Replies are read undecoded
(redis-py's ``NEVER_DECODE``) and shown with undecodable bytes escaped, so
binary data (a pickled cache entry...) never breaks a page. Only read
commands are ever sent.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = ["READERS", "Reader", "as_text", "reader_for"]

#: ask redis-py for the raw bytes of a reply
RAW = {"NEVER_DECODE": True}


#: control characters shown as ``\\xNN`` (tabs and newlines are kept)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def as_text(value: Any, limit: int | None = None) -> tuple[str, bool]:
    """``(text, truncated)``: ``value`` (bytes or str) as text cut at ``limit``
    characters; bytes that are not UTF-8, and control characters, are shown as
    ``\\xNN``."""
    if isinstance(value, bytes):
        try:
            text = value.decode()
        except UnicodeDecodeError:
            text = value.decode(errors="backslashreplace")
    else:
        text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    if limit is not None and len(text) > limit:
        return text[:limit], True
    return text, False


def _text(value: Any, limit: int | None) -> str:
    text, truncated = as_text(value, limit)
    return text + "…" if truncated else text


def _score(value: Any) -> str:
    text = as_text(value)[0]
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


class Reader:
    """Reads one key of a Redis type: its size and the first ``limit`` items."""

    #: the Redis type (``TYPE`` reply) and the name of the template include
    type: ClassVar[str] = ""
    #: how many replies :meth:`queue` adds
    replies: ClassVar[int] = 0

    @property
    def template(self) -> str:
        """The template include showing this type."""
        return f"django_limpyd/types/{self.type}.html"

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        """Queue the reads of ``key`` on ``pipe`` (``limit`` items, ``chars`` characters
        of a string)."""

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        """What the template gets: ``type``, ``template``, ``size``, ``items`` (dicts
        with ``value`` and the type's ``key``/``index``/``score``/``id``, and ``raw``,
        the bytes read), ``more`` (items not shown)."""
        return {"type": self.type, "template": self.template, "size": None, "items": [], "more": 0}

    def _shaped(self, size: Any, items: list[Any], **extra: Any) -> dict[str, Any]:
        size = int(size or 0)
        return {
            "type": self.type,
            "template": self.template,
            "size": size,
            "items": items,
            "more": max(size - len(items), 0),
            **extra,
        }


class StringReader(Reader):
    """``STRLEN`` and the first bytes (``GETRANGE``)."""

    type = "string"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("STRLEN", key)
        pipe.execute_command("GETRANGE", key, 0, max(chars, 1) * 4 - 1, **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        length, raw = replies
        value, cut = as_text(raw, chars)
        truncated = cut or int(length or 0) > len(raw or b"")
        return {**self._shaped(length, []), "value": value, "truncated": truncated, "more": 0}


class HashReader(Reader):
    """``HLEN`` and up to ``limit`` entries (``HSCAN``), sorted by key."""

    type = "hash"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("HLEN", key)
        pipe.execute_command("HSCAN", key, 0, "COUNT", max(limit, 1), **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        size, (_cursor, entries) = replies
        pairs = sorted(entries.items())[:limit] if isinstance(entries, dict) else []
        items = [
            {"key": _text(key, chars), "value": _text(value, chars), "raw": (key, value)}
            for key, value in pairs
        ]
        return self._shaped(size, items)


class SetReader(Reader):
    """``SCARD`` and up to ``limit`` members (``SSCAN``), sorted."""

    type = "set"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("SCARD", key)
        pipe.execute_command("SSCAN", key, 0, "COUNT", max(limit, 1), **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        size, (_cursor, members) = replies
        members = sorted(members)[:limit]
        return self._shaped(
            size, [{"value": _text(member, chars), "raw": member} for member in members]
        )


class ListReader(Reader):
    """``LLEN`` and the first ``limit`` items, in order, with their index."""

    type = "list"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("LLEN", key)
        pipe.execute_command("LRANGE", key, 0, max(limit, 1) - 1, **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        size, values = replies
        items = [
            {"index": i, "value": _text(value, chars), "raw": value}
            for i, value in enumerate(values)
        ]
        return self._shaped(size, items)


class ZSetReader(Reader):
    """``ZCARD`` and the first ``limit`` members with their scores, by score."""

    type = "zset"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("ZCARD", key)
        pipe.execute_command("ZRANGE", key, 0, max(limit, 1) - 1, "WITHSCORES", **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        size, flat = replies
        if flat and isinstance(flat[0], (list, tuple)):  # RESP3: [[member, score], ...]
            pairs = [tuple(pair) for pair in flat]
        else:
            pairs = list(zip(flat[::2], flat[1::2], strict=True))
        items = [
            {"value": _text(member, chars), "score": _score(score), "raw": (member, score)}
            for member, score in pairs
        ]
        return self._shaped(size, items)


class StreamReader(Reader):
    """``XLEN`` and the first ``limit`` entries."""

    type = "stream"
    replies = 2

    def queue(self, pipe: Any, key: Any, limit: int, chars: int) -> None:
        pipe.execute_command("XLEN", key)
        pipe.execute_command("XRANGE", key, "-", "+", "COUNT", max(limit, 1), **RAW)

    def shape(self, replies: list[Any], limit: int, chars: int | None) -> dict[str, Any]:
        size, entries = replies
        items = []
        for entry_id, values in entries or []:
            pairs = values.items() if isinstance(values, dict) else []
            shown = ", ".join(f"{_text(k, chars)}={_text(v, chars)}" for k, v in pairs)
            items.append({"id": _text(entry_id, None), "value": shown})
        return self._shaped(size, items)


class MissingReader(Reader):
    """A key that does not exist."""

    type = "none"


class OtherReader(Reader):
    """A type without a reader (a module's): no preview."""

    type = "other"


READERS: dict[str, Reader] = {
    reader.type: reader
    for reader in (
        StringReader(),
        HashReader(),
        SetReader(),
        ListReader(),
        ZSetReader(),
        StreamReader(),
        MissingReader(),
    )
}

_OTHER = OtherReader()


def reader_for(redis_type: Any) -> Reader:
    """The reader of a ``TYPE`` reply (bytes or str)."""
    name = as_text(redis_type)[0]
    return READERS.get(name, _OTHER)
