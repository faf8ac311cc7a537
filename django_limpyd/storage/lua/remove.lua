-- remove.lua: removing an instance (its keys, its index entries, the references other
-- instances hold to it), in two steps so that a call can check everything first:
-- removal_of() reads and plans (or answers the transforms it misses), remove() writes.
-- Used by delete, and, for a model with expiry (M.expiry), by every writing call to
-- clean up expired instances (reap_doomed, sweep); no KEYS/ARGV of its own.

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

-- what removing instance `pk` changes: ({own changes, referring}, nil), or (nil, missing
-- transforms {index id: [raw values]}); reads only
local function removal_of(M, pk, tmap)
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
    if next(missing_all) ~= nil then return nil, missing_all end
    return {changes, referring}, nil
end

-- write what removal_of() planned: the referrers, the entries, the keys, the pk
local function remove(M, pks, pk, removal)
    for _, item in ipairs(removal[2]) do
        local field, source, state, source_changes = item[1], item[2], item[3], item[4]
        restore(field, source, state)
        apply_changes(source, source_changes)
    end
    apply_changes(pk, removal[1])
    local doomed = {M.hash .. pk}
    for _, spec in ipairs(M.fields) do
        if spec.type ~= 'hfield' then table.insert(doomed, spec.key .. pk) end
    end
    redis.call('DEL', unpack(doomed))
    redis.call('ZREM', pks, pk)
    if M.expiry then redis.call('ZREM', M.expiry, pk) end
end

-- tell Python which expired instances this call removed, oldest first, in the list
-- M.reaped bounded to M.reaped_max (older pks dropped): Model.delete_expired() sends
-- their post_delete (expired=True)
local function note_reaped(M, removed)
    if #removed == 0 or not M.reaped then return end
    redis.call('RPUSH', M.reaped, unpack(removed))
    redis.call('LTRIM', M.reaped, -M.reaped_max, -1)
end

-- start a writing call of a model with expiry (a no-op without)
local function expiring(M)
    if M.expiry then EXPIRING = {M = M, now = now_ms(), doomed = {}} else EXPIRING = nil end
end

-- remove the expired instances the checks found holding a value the call takes (before
-- the call writes): an error reply (NEED: their old values' transforms), or nil
local function reap_doomed(M, pks, tmap)
    if not EXPIRING or next(EXPIRING.doomed) == nil then return nil end
    local removals, missing_all = {}, nil
    for pk in pairs(EXPIRING.doomed) do
        local removal, missing = removal_of(M, pk, tmap)
        if missing then
            missing_all = missing_all or {}
            merge_missing(missing_all, missing)
        else
            removals[pk] = removal
        end
    end
    if missing_all then return fail('NEED', missing_all) end
    local removed = {}
    for pk, removal in pairs(removals) do
        remove(M, pks, pk, removal)
        table.insert(removed, pk)
    end
    note_reaped(M, removed)
    EXPIRING.doomed = {}
    return nil
end

-- after an accepted write: remove up to M.sweep expired instances (those whose removal
-- needs a transform Python computes are left to Model.delete_expired()); the result as is
local function swept(M, pks, result)
    local call = EXPIRING
    EXPIRING = nil
    if not M.expiry or (type(result) == 'table' and result.err) or (M.sweep or 0) < 1 then
        return result
    end
    local now = call and call.now or now_ms()
    local due = redis.call('ZRANGEBYSCORE', M.expiry, '-inf', now, 'LIMIT', 0, M.sweep)
    local removed = {}
    for _, pk in ipairs(due) do
        local removal = removal_of(M, pk, NO_TRANSFORMS)
        if removal then
            remove(M, pks, pk, removal)
            table.insert(removed, pk)
        end
    end
    note_reaped(M, removed)
    return result
end

-- the deadline of a new instance: ttl ("" or nil: the model's default, "0": none), in ms
local function set_deadline(M, pk, ttl, now)
    if not M.expiry then return end
    local ms = M.ttl
    if ttl and ttl ~= '' then ms = tonumber(ttl) end
    if ms and ms > 0 then redis.call('ZADD', M.expiry, (now or now_ms()) + ms, pk) end
end
