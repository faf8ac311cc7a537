-- delete.lua: an instance, every key of it and every index entry of it, atomically.
--
-- KEYS[1]  the model's set of pks
-- ARGV[1]  the pk
-- ARGV[2]  model spec (JSON, see create.lua)
-- ARGV[3]  transform map (JSON, see lib.lua)
--
-- Returns 1 if deleted, 0 if there was no such instance. Errors (nothing written):
--   LIMPYD_NEED {index id: [raw values]}

local pk = ARGV[1]
local model = cjson.decode(ARGV[2])
local tmap = cjson.decode(ARGV[3])

if redis.call('SISMEMBER', KEYS[1], pk) == 0 then return 0 end

local planned, missing_all, any_missing = {}, {}, false
for _, spec in ipairs(model.fields) do
    if #spec.indexes > 0 then
        local values = indexed_values(spec, snapshot(spec, pk))
        local changes, missing = plan_changes(spec, values, {}, tmap)
        if missing then
            any_missing = true
            for id, raws in pairs(missing) do missing_all[id] = raws end
        else
            table.insert(planned, {spec, changes})
        end
    end
end
if any_missing then return fail('NEED', missing_all) end

for _, item in ipairs(planned) do apply_changes(item[1], pk, item[2]) end
local keys = {model.hash_key .. pk}
for _, spec in ipairs(model.fields) do
    if spec.type ~= 'hfield' then table.insert(keys, spec.key .. pk) end
end
redis.call('DEL', unpack(keys))
redis.call('SREM', KEYS[1], pk)
return 1
