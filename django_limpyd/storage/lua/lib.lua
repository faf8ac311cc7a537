-- lib.lua: helpers prepended to every django_limpyd script (no KEYS/ARGV of its own).
--
-- A "field spec" (JSON, built once per field by django_limpyd.storage.specs):
--   {name, type = string|hfield|hash|set|list|zset, key = key prefix (the pk is appended),
--    multi = bool, indexes = [{id, kind = eq|text|num, base, unique, transform}]}
-- A "transform map" (JSON, built per call by Python): {index id ("field/position"): {raw value: indexed value
-- or false when the transform said "do not index"}}.

local CHUNK = 1000

local function call_chunked(command, key, items, step)
    step = step or 1
    local per_call = CHUNK * step
    for first = 1, #items, per_call do
        local last = math.min(first + per_call - 1, #items)
        redis.call(command, key, unpack(items, first, last))
    end
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

local function range_member(index, spec, pk, value)
    if index.kind == 'text' or spec.multi then return value .. '\0' .. pk end
    return pk
end

local function index_add(index, spec, pk, value)
    if index.kind == 'eq' then
        redis.call('SADD', index.base .. value, pk)
    elseif index.kind == 'text' then
        redis.call('ZADD', index.base, 0, range_member(index, spec, pk, value))
    else
        redis.call('ZADD', index.base, number_of(value), range_member(index, spec, pk, value))
    end
end

local function index_remove(index, spec, pk, value)
    if index.kind == 'eq' then
        redis.call('SREM', index.base .. value, pk)
    else
        redis.call('ZREM', index.base, range_member(index, spec, pk, value))
    end
end

-- the pk (other than `pk`) already holding `value` in a unique index, or nil
local function holder_of(index, pk, value)
    local others
    if index.kind == 'eq' then
        others = redis.call('SMEMBERS', index.base .. value)
    elseif index.kind == 'text' then
        others = redis.call('ZRANGEBYLEX', index.base, '[' .. value .. '\0', '(' .. value .. '\1')
        for i, member in ipairs(others) do others[i] = string.sub(member, #value + 2) end
    else
        local score = number_of(value)
        others = redis.call('ZRANGEBYSCORE', index.base, score, score)
        for i, member in ipairs(others) do
            local cut = string.find(member, '\0', 1, true)
            if cut then others[i] = string.sub(member, 1, cut - 1) end
        end
    end
    for _, other in ipairs(others) do
        if other ~= pk then return other end
    end
    return nil
end

-- the per-index changes between two sets of raw values:
-- returns (changes, missing) with changes = list of {index, removed list, added list}
-- and missing = {index id = {raw values whose transform Python must compute}}
local function plan_changes(spec, old_values, new_values, tmap)
    local changes, missing, any_missing = {}, {}, false
    for _, index in ipairs(spec.indexes) do
        local removed, added, old_set = {}, {}, {}
        for raw in pairs(old_values) do
            local value, need = index_value(index, raw, tmap)
            if need then
                missing[index.id] = missing[index.id] or {}
                table.insert(missing[index.id], raw)
                any_missing = true
            elseif value ~= nil then
                old_set[value] = true
            end
        end
        local new_set = {}
        for raw in pairs(new_values) do
            local value, need = index_value(index, raw, tmap)
            if need then
                missing[index.id] = missing[index.id] or {}
                table.insert(missing[index.id], raw)
                any_missing = true
            elseif value ~= nil then
                new_set[value] = true
            end
        end
        for value in pairs(old_set) do
            if not new_set[value] then table.insert(removed, value) end
        end
        for value in pairs(new_set) do
            if not old_set[value] then table.insert(added, value) end
        end
        table.insert(changes, {index, removed, added})
    end
    if any_missing then return nil, missing end
    return changes, nil
end

-- the first conflict of planned changes with unique indexes, or nil
local function find_conflict(spec, pk, changes)
    for _, change in ipairs(changes) do
        local index, added = change[1], change[3]
        for _, value in ipairs(added) do
            if index.kind == 'text' and string.find(value, '\0', 1, true) then
                return {field = spec.name, value = value, reason = 'nul'}
            end
            if index.unique then
                local other = holder_of(index, pk, value)
                if other then return {field = spec.name, value = value, pk = other} end
            end
        end
    end
    return nil
end

local function apply_changes(spec, pk, changes)
    for _, change in ipairs(changes) do
        local index, removed, added = change[1], change[2], change[3]
        for _, value in ipairs(removed) do index_remove(index, spec, pk, value) end
        for _, value in ipairs(added) do index_add(index, spec, pk, value) end
    end
end

local function conflict_reply(conflict)
    if conflict.reason == 'nul' then return fail('INVALID', conflict) end
    return fail('UNIQUE', conflict)
end
