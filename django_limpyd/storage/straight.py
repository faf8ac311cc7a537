"""A model's create and single-value replacement compiled straight: Lua emitted per
model, without generic loops.

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

:func:`set_source` writes ``set_compiled(M, keys, args)``, the model's ``set``
operation: the ``HSET`` of one ``InstanceHashField`` entry of an existing instance
(``keys``: the model's pks, the instance hash; ``args``: the pk, the field's position in
``M.fields``, the value: three arguments where ``write`` takes five). Per field whose
indexes need nothing but its value (no transform, no token of several fields, no
dependent index: the "simple" plan of ``lua/core.lua``), one closure with the field's
indexes as upvalues: the pk checked, the old value read, each index that can refuse
checked (``check_token``), then the ``HSET`` and each index entry moved (the kind's
``apply``, else ``remove`` and ``add``). It must match the plain-replacement branch of
``write`` (``lua/write.lua``) exactly: same checks in the same order, same writes in the
same order, same replies. Any other field goes to ``write``. A model with expiry, or a
shard of a sharded model, has no ``set`` (its writes go through ``write``).

The index kinds stay the only ones to know their key layout: entries are added
by ``KINDS[kind].add`` and checked by ``check_token``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_limpyd.storage.protocol import lua_string

__all__ = ["MAX_FIELDS", "create_source", "set_source"]

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


#: program entries of a shard of a sharded model: its writes keep ``write`` (and its checks)
_SHARD_ENTRIES = ("stride", "offset", "moving", "moves", "ready")


def set_source(program: Mapping[str, Any]) -> str:
    """The Lua source of ``set_compiled`` for ``program`` (after ``local M = ...`` in
    the library, and after ``write``), or ``""`` when the model has no ``set``."""
    if program.get("expiry") or any(program.get(entry) for entry in _SHARD_ENTRIES):
        return ""
    fields = program.get("fields") or []
    simple = [
        (position, spec)
        for position, spec in enumerate(fields, 1)
        if spec.get("type") == "hfield"
        and not spec.get("multi")
        and not spec.get("dependents")
        and spec.get("indexes")
        and not any(index.get("transform") for index in spec["indexes"])
    ]
    if not simple:
        return ""
    lines = [
        "-- set_compiled: this model's set, compiled straight by storage/straight.py",
        "local SETTERS = {}",
    ]
    for position, spec in simple:
        name = lua_string(spec["name"])
        numbers = range(1, len(spec["indexes"]) + 1)
        lines += [
            "do",
            f"    local F = M.fields[{position}]",
            *(f"    local I{j} = F.indexes[{j}] local K{j} = KINDS[I{j}.kind]" for j in numbers),
            # checked at load, where Redis gives no globals: a token of several fields
            # (a kind's `token`) leaves the field to `write`
            "    if not (" + " or ".join(f"K{j}.token" for j in numbers) + ") then",
            *(
                f"    local C{j} = I{j}.unique or K{j}.refuse ~= nil or I{j}.target ~= nil"
                for j in numbers
            ),
            f"    SETTERS['{position}'] = function(pk, key, value, own)",
            f"        local old = redis.call('HGET', key, {name})",
            f"        if old == value then return redis.call('HSET', key, {name}, value) end",
            "        local refused",
        ]
        for j in numbers:
            lines.append(
                f"        if C{j} then refused = check_token(I{j}, F, pk, value, own)"
                " if refused then return refused end end"
            )
        lines.append(f"        local result = redis.call('HSET', key, {name}, value)")
        for j in numbers:
            lines += [
                f"        if not (K{j}.apply and K{j}.apply(I{j}, F, pk, old and {{old}} or EMPTY,"
                " {value})) then",
                f"            if old then K{j}.remove(I{j}, F, pk, old) end",
                f"            K{j}.add(I{j}, F, pk, value)",
                "        end",
            ]
        lines += ["        return result", "    end", "    end", "end"]
    lines += [
        "local function set_compiled(M, keys, args)",
        "    local pk, position = args[1], args[2]",
        "    local setter = SETTERS[position]",
        "    if setter and pk ~= '' then",
        "        if not has_pk(keys[1], pk) then return fail('MISSING', {pk = pk}) end",
        "        return setter(pk, keys[2], args[3], keys[1])",
        "    end",
        "    local spec = M.fields[tonumber(position)]",
        "    if pk == '' or not spec or spec.type ~= 'hfield' then",
        "        return redis.error_reply('set: an existing instance and the position of an '",
        "                                 .. 'InstanceHashField are needed')",
        "    end",
        "    return write(M, keys, {pk, position, 'HSET', spec.name, args[3]})  -- its own checks",
        "end",
    ]
    return "\n".join(lines)
