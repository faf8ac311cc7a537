-- write.lua: one command on one instance, with the changes of every index entry it moves
-- (the fields it writes and the indexes of other fields that depend on them), atomically.
-- Several specs are given when one command writes several fields (HSET of many
-- InstanceHashFields); they then share the key.
--
-- KEYS[1]  the model's set of pks
-- KEYS[2]  the model's AutoPK counter (used only when ARGV[1] is empty)
-- KEYS[3]  the model's scratch key (see incrbyfloat in lib.lua)
-- ARGV[1]  pk of the instance; "" = create the instance (AutoPK) with this write
-- ARGV[2]  JSON list of the specs of the fields written (see lib.lua); the command's key
--          is the first spec's key + pk
-- ARGV[3]  transform map (JSON, see lib.lua)
-- ARGV[4]  the Redis command; ARGV[5..] its arguments after the key
--          (for an InstanceHashField, the hash field name comes first)
--
-- Returns {pk, result of the command}. Errors (nothing written):
--   LIMPYD_MISSING {pk}         the instance does not exist
--   LIMPYD_UNIQUE {field, value, pk, index, together}   a unique index already holds it
--   LIMPYD_NEED {index id: [raw values]}   Python must compute these transforms, then retry
--   LIMPYD_INVALID {field, value, reason}
--   LIMPYD_NOTARGET {field, pk}   a related field would point to a missing instance

local pk = ARGV[1]
local specs = cjson.decode(ARGV[2])
local tmap = cjson.decode(ARGV[3])
local command = ARGV[4]
local creating = pk == ''

if creating then
    pk = tostring((tonumber(redis.call('GET', KEYS[2])) or 0) + 1)
elseif redis.call('SISMEMBER', KEYS[1], pk) == 0 then
    return fail('MISSING', {pk = pk})
end

local key = specs[1].key .. pk
local affected = affected_indexes(specs)
local before
if #affected > 0 then before = take_states(needed_specs(affected, specs), pk) end

local result = call_command(command, key, ARGV, 5, KEYS[3])

if #affected > 0 then
    local after = {}
    for name, state in pairs(before) do after[name] = state end
    for _, spec in ipairs(specs) do after[spec.name] = snapshot(spec, pk) end
    local changes, missing = plan_changes(affected, before, after, tmap)
    local failure
    if missing then
        failure = fail('NEED', missing)
    else
        local conflict = find_conflict(pk, changes)
        if conflict then
            failure = conflict_reply(conflict)
        else
            local missing_target = find_missing_target(pk, changes, KEYS[1])
            if missing_target then failure = fail('NOTARGET', missing_target) end
        end
    end
    if failure then
        for _, spec in ipairs(specs) do restore(spec, pk, before[spec.name]) end
        return failure
    end
    apply_changes(pk, changes)
end

if creating then
    redis.call('SET', KEYS[2], pk)
    redis.call('SADD', KEYS[1], pk)
end
return {pk, result}
