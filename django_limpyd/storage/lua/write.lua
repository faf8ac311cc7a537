-- write.lua: one command on one instance, with the index changes of the fields it touches,
-- atomically. Several specs are given when one command writes several fields (HSET of
-- many InstanceHashFields); they then share the key.
--
-- KEYS[1]  the model's set of pks
-- KEYS[2]  the model's AutoPK counter (used only when ARGV[1] is empty)
-- ARGV[1]  pk of the instance; "" = create the instance (AutoPK) with this write
-- ARGV[2]  JSON list of the specs of the fields written (see lib.lua); the command's key
--          is the first spec's key + pk
-- ARGV[3]  transform map (JSON, see lib.lua)
-- ARGV[4]  the Redis command; ARGV[5..] its arguments after the key
--          (for an InstanceHashField, the hash field name comes first)
--
-- Returns {pk, result of the command}. Errors (nothing written):
--   LIMPYD_MISSING {pk}         the instance does not exist
--   LIMPYD_UNIQUE {field, value, pk}   a unique index already holds the value
--   LIMPYD_NEED {index id: [raw values]}   Python must compute these transforms, then retry
--   LIMPYD_INVALID {field, value, reason}

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
-- with indexes, every written field is snapshotted so that a refused write restores all
local indexed = {}
for _, spec in ipairs(specs) do
    if #spec.indexes > 0 then
        for _, each in ipairs(specs) do table.insert(indexed, {each, snapshot(each, pk)}) end
        break
    end
end

local result = redis.call(command, key, unpack(ARGV, 5))

if #indexed > 0 then
    local planned, missing_all, any_missing = {}, {}, false
    for _, item in ipairs(indexed) do
        local spec, old_state = item[1], item[2]
        if #spec.indexes > 0 then
            local changes, missing = plan_changes(
                spec, indexed_values(spec, old_state), indexed_values(spec, snapshot(spec, pk)), tmap)
            if missing then
                any_missing = true
                for id, raws in pairs(missing) do missing_all[id] = raws end
            else
                table.insert(planned, {spec, changes})
            end
        end
    end
    local failure
    if any_missing then
        failure = fail('NEED', missing_all)
    else
        for _, item in ipairs(planned) do
            local conflict = find_conflict(item[1], pk, item[2])
            if conflict then failure = conflict_reply(conflict) break end
        end
    end
    if failure then
        for _, item in ipairs(indexed) do restore(item[1], pk, item[2]) end
        return failure
    end
    for _, item in ipairs(planned) do apply_changes(item[1], pk, item[2]) end
end

if creating then
    redis.call('SET', KEYS[2], pk)
    redis.call('SADD', KEYS[1], pk)
end
return {pk, result}
