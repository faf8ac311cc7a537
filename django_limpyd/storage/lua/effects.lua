-- effects.lua: what a write command will leave in a field, computed from the field's
-- current state and the command's arguments, BEFORE anything is written (so a refused
-- write sends nothing to replicas or the AOF).
--
-- EFFECTS[COMMAND](state, args, first) -> the state after the command (snapshot() form;
-- false: no value), or nil when it cannot be told in advance (the write then runs as a trial,
-- see write.lua). REMOVING lists commands that can only take values away: they run at once
-- and the index entries follow (no check can refuse a removal).

local REMOVING = {
    DEL = true, HDEL = true, GETDEL = true, SREM = true, SPOP = true, ZREM = true,
    ZPOPMIN = true, ZPOPMAX = true, ZREMRANGEBYLEX = true, ZREMRANGEBYRANK = true,
    ZREMRANGEBYSCORE = true, LPOP = true, RPOP = true, LREM = true, LTRIM = true,
}

local TWO53 = 9007199254740992

-- `value + increment` as Redis' INCRBY would store it, when exact in a Lua number
local function add_integer(value, increment)
    value = value or '0'
    if not (string.find(value, '^%-?%d+$') and string.find(increment, '^%-?%d+$')) then return nil end
    if #value > 15 or #increment > 15 then return nil end
    local result = tonumber(value) + tonumber(increment)
    if result >= TWO53 or result <= -TWO53 then return nil end
    return string.format('%.0f', result)
end

local function setrange(value, offset, part)
    value = value or ''
    offset = tonumber(offset)
    if not offset or offset < 0 or offset + #part > 1000000 then return nil end
    if #part == 0 then return value ~= '' and value or false end
    if #value < offset then value = value .. string.rep('\0', offset - #value) end
    return string.sub(value, 1, offset) .. part .. string.sub(value, offset + #part + 1)
end

local function copy_list(state)
    local copy = {}
    for i, value in ipairs(state or {}) do copy[i] = value end
    return copy
end

local function members_added(state, args, first, step)
    local seen, result = {}, copy_list(state)
    for i = 1, #result, step do seen[result[i]] = true end
    for i = first, #args, step do
        if not seen[args[i]] then
            seen[args[i]] = true
            table.insert(result, args[i])
            if step == 2 then table.insert(result, '0') end
        end
    end
    return result
end

local EFFECTS = {
    SET = function(state, args, first)
        if #args == first then return args[first] end
        return nil
    end,
    SETNX = function(state, args, first) return state or args[first] end,
    GETSET = function(state, args, first) return args[first] end,
    SETEX = function(state, args, first) return args[first + 1] end,
    PSETEX = function(state, args, first) return args[first + 1] end,
    APPEND = function(state, args, first) return (state or '') .. args[first] end,
    SETRANGE = function(state, args, first) return setrange(state, args[first], args[first + 1]) end,
    INCR = function(state) return add_integer(state, '1') end,
    DECR = function(state) return add_integer(state, '-1') end,
    INCRBY = function(state, args, first) return add_integer(state, args[first]) end,
    DECRBY = function(state, args, first)
        local amount = args[first]
        if string.sub(amount, 1, 1) == '-' then amount = string.sub(amount, 2) else amount = '-' .. amount end
        return add_integer(state, amount)
    end,
    -- sets (a state is the list of members) and lists (order does not matter to indexes:
    -- only which values are present)
    SADD = function(state, args, first) return members_added(state, args, first, 1) end,
    RPUSH = function(state, args, first) return members_added(state, args, first, 1) end,
    LPUSH = function(state, args, first) return members_added(state, args, first, 1) end,
    RPUSHX = function(state, args, first)
        if #(state or {}) == 0 then return {} end
        return members_added(state, args, first, 1)
    end,
    LPUSHX = function(state, args, first)
        if #(state or {}) == 0 then return {} end
        return members_added(state, args, first, 1)
    end,
    LINSERT = function(state, args, first)
        for _, value in ipairs(state or {}) do
            if value == args[first + 1] then return members_added(state, args, first + 2, 1) end
        end
        return copy_list(state)
    end,
    LSET = function(state, args, first)
        local result, index = copy_list(state), tonumber(args[first])
        if not index then return nil end
        if index < 0 then index = #result + index end
        if index < 0 or index >= #result then return nil end
        result[index + 1] = args[first + 1]
        return result
    end,
    -- sorted sets: members and scores; indexes see the members
    ZADD = function(state, args, first)
        while string.upper(args[first] or '') == 'CH' do first = first + 1 end
        if (#args - first + 1) % 2 ~= 0 then return nil end
        local result, seen = copy_list(state), {}
        for i = 1, #result, 2 do seen[result[i]] = true end
        for i = first, #args, 2 do
            local member = args[i + 1]
            if not tonumber(args[i]) then return nil end
            if not seen[member] then
                seen[member] = true
                table.insert(result, member)
                table.insert(result, args[i])
            end
        end
        return result
    end,
    ZINCRBY = function(state, args, first)
        local result = copy_list(state)
        for i = 1, #result, 2 do
            if result[i] == args[first + 1] then return result end
        end
        table.insert(result, args[first + 1])
        table.insert(result, args[first])
        return result
    end,
}

-- hashes: a HashField's state is the flat HGETALL list
local function hash_set(state, args, first, only_new)
    local result, where = copy_list(state), {}
    for i = 1, #result, 2 do where[result[i]] = i end
    if (#args - first + 1) % 2 ~= 0 then return nil end
    for i = first, #args, 2 do
        local at = where[args[i]]
        if at == nil then
            table.insert(result, args[i])
            table.insert(result, args[i + 1])
            where[args[i]] = #result - 1
        elseif not only_new then
            result[at + 1] = args[i + 1]
        end
    end
    return result
end

local HASH_EFFECTS = {
    HSET = function(state, args, first) return hash_set(state, args, first, false) end,
    HMSET = function(state, args, first) return hash_set(state, args, first, false) end,
    HSETNX = function(state, args, first) return hash_set(state, args, first, true) end,
    HINCRBY = function(state, args, first)
        local result = copy_list(state)
        for i = 1, #result, 2 do
            if result[i] == args[first] then
                local value = add_integer(result[i + 1], args[first + 1])
                if not value then return nil end
                result[i + 1] = value
                return result
            end
        end
        local value = add_integer('0', args[first + 1])
        if not value then return nil end
        table.insert(result, args[first])
        table.insert(result, value)
        return result
    end,
}

-- InstanceHashFields: the states of the written entries ({name = value or false})
local ENTRY_EFFECTS = {
    HSET = function(states, args, first)
        if (#args - first + 1) % 2 ~= 0 then return nil end
        local after = {}
        for i = first, #args, 2 do after[args[i]] = args[i + 1] end
        return after
    end,
    HSETNX = function(states, args, first)
        return {[args[first]] = states[args[first]] or args[first + 1]}
    end,
    HINCRBY = function(states, args, first)
        local value = add_integer(states[args[first]] or '0', args[first + 1])
        if not value then return nil end
        return {[args[first]] = value}
    end,
}

-- the states of `specs` after `command`, or nil if unknown (see EFFECTS)
local function predict(command, specs, before, args, first)
    local spec = specs[1]
    if spec.type == 'hfield' then
        local effect = ENTRY_EFFECTS[command]
        if not effect then return nil end
        local after = effect(before, args, first)
        if not after then return nil end
        for _, written in ipairs(specs) do
            if after[written.name] == nil then after[written.name] = before[written.name] or false end
        end
        return after
    end
    local effect = EFFECTS[command]
    if spec.type == 'hash' then effect = HASH_EFFECTS[command] end
    if not effect then return nil end
    local state = effect(before[spec.name], args, first)
    if state == nil then return nil end
    return {[spec.name] = state}
end

-- Multi-value fields (sets, sorted sets, hashes) whose indexes have no transform: what a
-- command adds and removes, as raw values, read in the size of the change (not of the
-- field). DELTAS[COMMAND](spec, key, args, first) -> (removed raws, added raws), before
-- writing; DELTA_AFTER[COMMAND]: commands whose removed members are their reply.

-- SMISMEMBER / ZMSCORE / HMGET of many members, in chunks unpack() can take
local function read_many(command, key, members)
    local found = {}
    for start = 1, #members, 1000 do
        local reply = redis.call(command, key, unpack(members, start, math.min(start + 999, #members)))
        for i, value in ipairs(reply) do found[start + i - 1] = value end
        -- ipairs stops at the first nil (false from Lua): fill by position instead
        for i = #reply + 1, math.min(1000, #members - start + 1) do found[start + i - 1] = false end
    end
    return found
end

local function distinct(args, first, step, offset)
    local seen, list = {}, {}
    for i = first + (offset or 0), #args, step do
        if not seen[args[i]] then
            seen[args[i]] = true
            list[#list + 1] = args[i]
        end
    end
    return list
end

-- members absent from (or present in) the field, with the command answering 0/1/false/score
local function members_where(command, key, members, present)
    local result = {}
    local found = read_many(command, key, members)
    for i, member in ipairs(members) do
        local is_in = found[i] and found[i] ~= 0
        if is_in == present then result[#result + 1] = member end
    end
    return result
end

local function entry_token(key, value) return #key .. ':' .. key .. ':' .. value end

local function hash_delta(spec, key, args, first, only_new)
    if (#args - first + 1) % 2 ~= 0 then return nil end
    local names, values, seen = {}, {}, {}
    for i = #args - 1, first, -2 do  -- the last value of a repeated key wins
        if not seen[args[i]] then
            seen[args[i]] = true
            table.insert(names, 1, args[i])
            table.insert(values, 1, args[i + 1])
        end
    end
    local old = read_many('HMGET', key, names)
    local removed, added = {}, {}
    for i, name in ipairs(names) do
        if not old[i] then
            added[#added + 1] = entry_token(name, values[i])
        elseif not only_new and old[i] ~= values[i] then
            removed[#removed + 1] = entry_token(name, old[i])
            added[#added + 1] = entry_token(name, values[i])
        end
    end
    return removed, added
end

local DELTAS = {
    SADD = function(spec, key, args, first)
        return EMPTY, members_where('SMISMEMBER', key, distinct(args, first, 1), false)
    end,
    SREM = function(spec, key, args, first)
        return members_where('SMISMEMBER', key, distinct(args, first, 1), true), EMPTY
    end,
    ZADD = function(spec, key, args, first)
        while string.upper(args[first] or '') == 'CH' do first = first + 1 end
        if (#args - first + 1) % 2 ~= 0 then return nil end
        return EMPTY, members_where('ZMSCORE', key, distinct(args, first, 2, 1), false)
    end,
    ZINCRBY = function(spec, key, args, first)
        return EMPTY, members_where('ZMSCORE', key, {args[first + 1]}, false)
    end,
    ZREM = function(spec, key, args, first)
        return members_where('ZMSCORE', key, distinct(args, first, 1), true), EMPTY
    end,
    HSET = function(spec, key, args, first) return hash_delta(spec, key, args, first, false) end,
    HMSET = function(spec, key, args, first) return hash_delta(spec, key, args, first, false) end,
    HSETNX = function(spec, key, args, first) return hash_delta(spec, key, args, first, true) end,
    HDEL = function(spec, key, args, first)
        local names = distinct(args, first, 1)
        local old = read_many('HMGET', key, names)
        local removed = {}
        for i, name in ipairs(names) do
            if old[i] then removed[#removed + 1] = entry_token(name, old[i]) end
        end
        return removed, EMPTY
    end,
}

-- removals whose reply names what they removed: {step between members in the reply}
local DELTA_AFTER = {SPOP = 1, ZPOPMIN = 2, ZPOPMAX = 2}
