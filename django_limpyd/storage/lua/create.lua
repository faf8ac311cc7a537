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
--   LIMPYD_EXISTS {pk}, LIMPYD_UNIQUE {field, value, pk}, LIMPYD_NEED {...}, LIMPYD_INVALID {...}

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

local planned, missing_all, any_missing = {}, {}, false
for _, spec in ipairs(model.fields) do
    local value = values[spec.name]
    if value ~= nil and #spec.indexes > 0 then
        local state = state_of(spec, value)
        local changes, missing = plan_changes(spec, {}, indexed_values(spec, state), tmap)
        if missing then
            any_missing = true
            for id, raws in pairs(missing) do missing_all[id] = raws end
        else
            table.insert(planned, {spec, changes})
        end
    end
end
if any_missing then return fail('NEED', missing_all) end

local holder_pk = pk
if holder_pk == '' then holder_pk = '\0' end  -- no existing instance can have this pk
for _, item in ipairs(planned) do
    local conflict = find_conflict(item[1], holder_pk, item[2])
    if conflict then return conflict_reply(conflict) end
end

if pk == '' then pk = tostring(redis.call('INCR', KEYS[2])) end

local hash_items = {}
for _, spec in ipairs(model.fields) do
    local value = values[spec.name]
    if value ~= nil then
        local key = spec.key .. pk
        local kind = spec.type
        if kind == 'string' then
            redis.call('SET', key, value)
        elseif kind == 'hfield' then
            table.insert(hash_items, spec.name)
            table.insert(hash_items, value)
        elseif #value > 0 then
            restore(spec, pk, state_of(spec, value))
        end
    end
end
if #hash_items > 0 then call_chunked('HSET', model.hash_key .. pk, hash_items, 2) end

for _, item in ipairs(planned) do apply_changes(item[1], pk, item[2]) end
redis.call('SADD', KEYS[1], pk)
return pk
