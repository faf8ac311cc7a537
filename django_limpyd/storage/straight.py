"""A model's create compiled straight: Lua emitted per model, without generic loops.

:func:`create_source` writes, from a model program (see ``lua/core.lua``), a Lua
function ``create_compiled(M, keys, args)`` that the compiler registers as the
model's ``create`` operation. It handles the creates whose given fields are
single-value fields (``InstanceHashField``, ``StringField``) in declaration
order (the header's positions increasing), none of whose indexes has a
transform, a related target or a token of several fields: one local per field,
its checks (``check_token``, for the indexes that can refuse: unique, or a kind
with ``refuse``), then ``INCR``, the ``SET`` of each string field, one ``HSET``
of the hash fields (literal when every hash field is given), the kind's ``add``
of each index entry, the pk. Any other create (another order, a multi-value
field, a transform map, a model with expiry) goes to the generic ``create`` of
``lua/create.lua``, which this one must match exactly: same checks in the same
order, same writes in the same order, same replies.

The index kinds stay the only ones to know their key layout: entries are added
by ``KINDS[kind].add`` and checked by ``check_token``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_limpyd.storage.protocol import lua_string

__all__ = ["MAX_FIELDS", "create_source"]

#: beyond this many single-value fields a model keeps the generic create (one Lua
#: local per field and two arguments of the literal HSET per hash field: Lua 5.1 allows
#: 200 locals and 250 registers per function)
MAX_FIELDS = 60

_SINGLE = ("hfield", "string")


def create_source(program: Mapping[str, Any]) -> str:
    """The Lua source of ``create_compiled`` for ``program`` (after ``local M = ...``
    in the library), or ``""`` when the model keeps the generic create."""
    if program.get("expiry"):
        return ""
    fields = program.get("fields") or []
    singles = [
        (position, spec)
        for position, spec in enumerate(fields, 1)
        if spec.get("type") in _SINGLE and not spec.get("multi")
    ]
    if not singles or len(singles) > MAX_FIELDS:
        return ""
    hashed = [(position, spec) for position, spec in singles if spec["type"] == "hfield"]
    # every index of a single-value field, numbered j = 1.. (CI[j], its owner CF[j])
    entries = [
        (position, number)
        for position, spec in singles
        for number in range(1, len(spec.get("indexes") or []) + 1)
    ]
    lines = [
        "-- create_compiled: this model's create, compiled straight by storage/straight.py",
        # runs when the library loads, where Redis gives no globals (no ipairs)
        "local CREATE_FIELDS, CREATE_SLOTS = {}, {}",
        "local CREATE_SINGLES = {" + ",".join(str(p) for p, _ in singles) + "}",
        "for i = 1, #CREATE_SINGLES do",
        "    local indexes, plain = M.fields[CREATE_SINGLES[i]].indexes, true",
        "    for k = 1, #indexes do",
        "        local index = indexes[k]",
        "        if index.transform or index.target or KINDS[index.kind].token then",
        "            plain = false",
        "        end",
        "    end",
        "    CREATE_FIELDS[CREATE_SINGLES[i]] = plain",
        "end",
        "local CI, CF, CHECK, ADD = {}, {}, {}, {}",
        "local CREATE_ENTRIES = {" + ",".join(f"{{{p},{n}}}" for p, n in entries) + "}",
        "for j = 1, #CREATE_ENTRIES do",
        "    local spec = M.fields[CREATE_ENTRIES[j][1]]",
        "    local index = spec.indexes[CREATE_ENTRIES[j][2]]",
        "    CI[j], CF[j] = index, spec",
        "    CHECK[j] = index.unique or KINDS[index.kind].refuse ~= nil",
        "    ADD[j] = KINDS[index.kind].add",
        "end",
        "-- {position = argument of its value, all = every hash field given}, or false: the",
        "-- generic create (another field, order, or a transform map)",
        "local function create_slots(header)",
        "    if string.find(header, '[^%d,]') then return false end",
        "    local slots, at, last, hashed = {}, 2, 0, 0",
        "    for position in string.gmatch(header, '%d+') do",
        "        position = tonumber(position)",
        "        if position <= last or not CREATE_FIELDS[position] then return false end",
        "        at, last = at + 1, position",
        "        slots[position] = at",
        "        if M.fields[position].type == 'hfield' then hashed = hashed + 1 end",
        "    end",
        f"    slots.all = hashed == {len(hashed)}",
        "    return slots",
        "end",
        "local function create_compiled(M, keys, args)",
        "    local header = args[2]",
        "    local slots = CREATE_SLOTS[header]",
        "    if slots == nil then",
        "        slots = create_slots(header)",
        "        CREATE_SLOTS[header] = slots",
        "    end",
        "    if not slots then return create(M, keys, args) end",
        "    local pk = args[1]",
        "    if pk ~= '' and has_pk(keys[1], pk) then return fail('EXISTS', {pk = pk}) end",
        "    local holder = pk",
        "    if holder == '' then holder = '\\0' end  -- no existing instance can have this pk",
        "    local s, refused",
    ]
    for position, _spec in singles:
        lines.append(f"    s = slots[{position}] local v{position} = s and args[s]")
    for j, (position, _number) in enumerate(entries, 1):
        lines.append(
            f"    if v{position} and CHECK[{j}] then"
            f" refused = check_token(CI[{j}], CF[{j}], holder, v{position}, keys[1])"
            " if refused then return refused end end"
        )
    lines.append("    if pk == '' then pk = auto_pk(M, redis.call('INCR', keys[2])) end")
    for position, spec in singles:
        if spec["type"] == "string":
            lines.append(
                f"    if v{position} then"
                f" redis.call('SET', M.fields[{position}].key .. pk, v{position}) end"
            )
    if hashed:
        literal = ", ".join(f"{lua_string(spec['name'])}, v{p}" for p, spec in hashed)
        lines += [
            "    if slots.all then",
            f"        redis.call('HSET', M.hash .. pk, {literal})",
            "    else",
            "        local h, n = {}, 0",
        ]
        for position, spec in hashed:
            lines.append(
                f"        if v{position} then h[n + 1] = {lua_string(spec['name'])}"
                f" h[n + 2] = v{position} n = n + 2 end"
            )
        lines += [
            "        if n > 0 then redis.call('HSET', M.hash .. pk, unpack(h, 1, n)) end",
            "    end",
        ]
    for j, (position, _number) in enumerate(entries, 1):
        lines.append(f"    if v{position} then ADD[{j}](CI[{j}], CF[{j}], pk, v{position}) end")
    lines += [
        "    add_pk(M, keys[1], pk)",
        "    return pk",
        "end",
    ]
    return "\n".join(lines)
