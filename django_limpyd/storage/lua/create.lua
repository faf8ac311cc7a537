-- create.lua: a whole new instance (pk, every given field, index entries), atomically.
--
-- KEYS[1]  the model's set of pks
-- KEYS[2]  the model's AutoPK counter
-- ARGV[1]  model spec (JSON): {fields = [field specs (see lib.lua)], hash_key = prefix}
-- ARGV[2]  the pk; "" = take the next AutoPK
-- ARGV[3]  values (JSON): {field name: value}; string/hfield: a string; set/list: an array;
--          zset: an array of [member, score]; hash: an array of [key, value]
-- ARGV[4]  transform map (JSON, see lib.lua)
--
-- Checks everything before the first write. Returns the pk. Errors (nothing written):
--   LIMPYD_EXISTS {pk}, LIMPYD_UNIQUE {...}, LIMPYD_NEED {...}, LIMPYD_INVALID {...},
--   LIMPYD_NOTARGET {field, pk}

local model = cjson.decode(ARGV[1])
local pk = ARGV[2]
local values = cjson.decode(ARGV[3])
local tmap = cjson.decode(ARGV[4])

if pk ~= '' and redis.call('SISMEMBER', KEYS[1], pk) == 1 then
    return fail('EXISTS', {pk = pk})
end

-- the state each field will have, in snapshot() form
local function state_of(spec, value)
    local kind = spec.type
    if kind == 'string' or kind == 'hfield' then return value end
    if kind == 'zset' or kind == 'hash' then
        local flat = {}
        for _, pair in ipairs(value) do
            table.insert(flat, pair[1])
            table.insert(flat, tostring(pair[2]))
        end
        return flat
    end
    return value
end

local after = {}
for _, spec in ipairs(model.fields) do
    local value = values[spec.name]
    if value ~= nil then after[spec.name] = state_of(spec, value) end
end

local affected = {}
for _, spec in ipairs(model.fields) do
    for _, index in ipairs(spec.indexes) do table.insert(affected, {spec, index}) end
end
local changes, missing = plan_changes(affected, {}, after, tmap)
if missing then return fail('NEED', missing) end

local holder_pk = pk
if holder_pk == '' then holder_pk = '\0' end  -- no existing instance can have this pk
local conflict = find_conflict(holder_pk, changes)
if conflict then return conflict_reply(conflict) end
local missing_target = find_missing_target(holder_pk, changes, KEYS[1])
if missing_target then return fail('NOTARGET', missing_target) end

if pk == '' then pk = tostring(redis.call('INCR', KEYS[2])) end

local hash_items = {}
for _, spec in ipairs(model.fields) do
    local state = after[spec.name]
    if state ~= nil then
        if spec.type == 'string' then
            redis.call('SET', spec.key .. pk, state)
        elseif spec.type == 'hfield' then
            table.insert(hash_items, spec.name)
            table.insert(hash_items, state)
        elseif #state > 0 then
            restore(spec, pk, state)
        end
    end
end
if #hash_items > 0 then call_chunked('HSET', model.hash_key .. pk, hash_items, 2) end

apply_changes(pk, changes)
redis.call('SADD', KEYS[1], pk)
return pk
