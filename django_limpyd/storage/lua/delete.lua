-- delete.lua: an instance, every key of it and every index entry of it, atomically; and
-- every reference to it held by related fields of other instances (M.referrers).
--
-- keys[1]  the model's pks (zset)
-- args     the pk, then the header "|<n>" and the transform map when there is one
--          (see read_header)
--
-- Returns 1 if deleted, 0 if there was no such instance. Errors (nothing written):
--   LIMPYD_NEED {index id: [raw values]}

-- a referrer field's state without the value `pk`
local function without(spec, state, pk)
    if spec.type == 'string' or spec.type == 'hfield' then
        if state == pk then return false end
        return state
    end
    local kept = {}
    if spec.type == 'zset' then
        for i = 1, #state, 2 do
            if state[i] ~= pk then
                table.insert(kept, state[i])
                table.insert(kept, state[i + 1])
            end
        end
    else
        for _, member in ipairs(state) do
            if member ~= pk then table.insert(kept, member) end
        end
    end
    return kept
end

local function delete(M, keys, args)
    local pk = args[1]
    local tmap = NO_TRANSFORMS
    if args[2] then
        local _, sent = read_header(args, 2)
        tmap = sent
    end

    if not has_pk(keys[1], pk) then return 0 end

    -- the instance's own index entries (only the fields they use are read)
    local plan = delete_plan(M)
    local changes, missing_all = EMPTY, {}
    if #plan[1] > 0 then
        local before = take_states(plan[2], pk)
        local missing
        changes, missing = plan_changes(plan[1], before, EMPTY, tmap)
        if missing then merge_missing(missing_all, missing) end
    end

    -- the references to it: each referrer field loses the value `pk`
    local referring = {}
    for _, referrer in ipairs(plan[3]) do
        local field, touched, needed = referrer[1], referrer[3], referrer[4]
        local sources = redis.call('SMEMBERS', referrer[2] .. pk)
        for _, source in ipairs(sources) do
            local was = take_states(needed, source)
            local now = {}
            for name, state in pairs(was) do now[name] = state end
            now[field.name] = without(field, was[field.name], pk)
            local source_changes, source_missing = plan_changes(touched, was, now, tmap)
            if source_missing then
                merge_missing(missing_all, source_missing)
            else
                table.insert(referring, {field, source, now[field.name], source_changes})
            end
        end
    end
    if next(missing_all) ~= nil then return fail('NEED', missing_all) end

    for _, item in ipairs(referring) do
        local field, source, state, source_changes = item[1], item[2], item[3], item[4]
        restore(field, source, state)
        apply_changes(source, source_changes)
    end

    apply_changes(pk, changes)
    local doomed = {M.hash .. pk}
    for _, spec in ipairs(M.fields) do
        if spec.type ~= 'hfield' then table.insert(doomed, spec.key .. pk) end
    end
    redis.call('DEL', unpack(doomed))
    redis.call('ZREM', keys[1], pk)
    return 1
end
