"""Everything the compiled Lua functions receive, built in one place.

A model reaches Redis as plain data, the *model program* (built by
``django_limpyd.model.options.Options.program``; its shape is described at the
top of ``lua/core.lua``): it is compiled into the model's function library as a
Lua table literal (:func:`lua_literal`), once. Each call then only sends its
keys and flat string arguments (:func:`create_args`, :func:`write_args`,
:func:`delete_args`): nothing is JSON-decoded on the server for a write.

A *transform map* ``{index id: {raw value: indexed value, or None: not indexed}}``
holds what Python computed for indexes with a ``transform``; it travels flat
(:func:`transform_args`), read back by ``read_tmap`` in ``lua/core.lua``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "TransformMap",
    "create_args",
    "delete_args",
    "lua_literal",
    "lua_string",
    "transform_args",
    "write_args",
]

TransformMap = dict[str, dict[str, Any]]

#: a transform map with nothing in it, as sent
NO_TRANSFORMS: tuple[str, ...] = ("0",)

_SAFE = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal (UTF-8 bytes; others than printable ASCII as
    ``\\ddd`` decimal escapes, so the literal is plain ASCII)."""
    out = ['"']
    for byte in text.encode("utf-8", "surrogatepass"):
        out.append(chr(byte) if byte in _SAFE else f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def lua_literal(value: Any) -> str:
    """A Lua expression for plain data: dicts (string keys), lists, strings, numbers,
    booleans; ``None`` values of a dict are left out (Lua's nil)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        items = (
            f"[{lua_string(key)}]={lua_literal(item)}"
            for key, item in value.items()
            if item is not None
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(lua_literal(item) for item in value) + "}"
    raise TypeError(f"cannot write {value!r} as a Lua literal")


def transform_args(tmap: TransformMap) -> list[str]:
    """A transform map as flat arguments: the count, then (index id, raw, ``+value`` or
    ``-``) triples."""
    if not tmap:
        return list(NO_TRANSFORMS)
    flat: list[str] = []
    for index_id, known in tmap.items():
        for raw, value in known.items():
            flat += [index_id, raw, "-" if value is None or value is False else "+" + value]
    return [str(len(flat) // 3), *flat]


def create_args(pk: str, tmap: TransformMap, values: Iterable[tuple[int, Sequence[str]]]) -> list:
    """Arguments of ``create``: ``values`` are ``(field position, flat items)``."""
    args: list[Any] = [pk, *transform_args(tmap)]
    for position, items in values:
        args += [position, len(items), *items]
    return args


def write_args(
    pk: str, positions: Sequence[int], tmap: TransformMap, command: Sequence[Any]
) -> list:
    """Arguments of ``write``: ``command`` is the Redis command without its key."""
    return [pk, len(positions), *positions, *transform_args(tmap), *command]


def delete_args(pk: str, tmap: TransformMap) -> list:
    """Arguments of ``delete``."""
    return [pk, *transform_args(tmap)]
