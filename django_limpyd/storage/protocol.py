"""Everything the compiled Lua functions receive, built in one place.

A model reaches Redis as plain data, the *model program* (built by
``django_limpyd.model.options.Options.program``; its shape is described at the
top of ``lua/core.lua``): it is compiled into the model's function library as a
Lua table literal (:func:`lua_literal`), once. Each call then only sends its
keys and flat string arguments (:func:`create_args`, :func:`write_args`,
:func:`delete_args`): nothing is JSON-decoded on the server for a write.

A *transform map* ``{index id: {raw value: indexed value, or None: not indexed}}``
holds what Python computed for indexes with a ``transform``; it travels flat,
after the call's header (:func:`header`), read back by ``read_header`` in
``lua/core.lua``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "TransformMap",
    "create_args",
    "delete_args",
    "header",
    "lua_literal",
    "lua_string",
    "write_args",
]

TransformMap = dict[str, dict[str, Any]]

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
    booleans; ``None`` values of a dict are left out (Lua's nil). Numbers a Lua number
    (a double) cannot hold exactly, infinities and NaN are refused (``ValueError``)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} has no Lua literal")
        if isinstance(value, int) and abs(value) > 2**53:
            raise ValueError(f"{value!r} cannot be exact in a Lua number (a double)")
        if value == 0 and math.copysign(1.0, value) < 0:
            # a constant -0 would be merged with a constant 0 of the chunk: computed
            return "(-1/math.huge)"
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


def header(fields: str, tmap: TransformMap) -> list[str]:
    """A call's header: ``fields`` (what the call writes), with the transform map when
    there is one: ``"<fields>|<n>"`` followed by n (index id, raw, ``+value`` or ``-``)
    triples (read by ``read_header`` in ``lua/core.lua``)."""
    if not tmap:
        return [fields]
    flat: list[str] = []
    for index_id, known in tmap.items():
        for raw, value in known.items():
            flat += [index_id, raw, "-" if value is None or value is False else "+" + value]
    return [f"{fields}|{len(flat) // 3}", *flat]


def create_args(
    pk: str, tmap: TransformMap, fields: str, items: Sequence[str], expiry: Sequence[str] = ()
) -> list:
    """Arguments of ``create``: ``fields`` says which fields ``items`` give (``"1,2,5*"``:
    positions in the program; ``*``: a multi-value field, whose items start with their
    count). ``expiry``: for a model with expiry only, ``[ttl]``: the time to live in ms
    (``""``: the model's default, ``"0"``: none)."""
    return [pk, *expiry, *header(fields, tmap), *items]


def write_args(pk: str, fields: str, tmap: TransformMap, command: Sequence[Any]) -> list:
    """Arguments of ``write``: ``fields`` are the positions written (``"3"``, ``"3,4"``);
    ``command`` is the Redis command without its key."""
    return [pk, *header(fields, tmap), *command]


def delete_args(pk: str, tmap: TransformMap) -> list:
    """Arguments of ``delete``."""
    return [pk, *header("", tmap)] if tmap else [pk]
