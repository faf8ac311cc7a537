-- create.lua: a whole new instance (pk, every given field, index entries), atomically.
--
-- keys[1]  the model's set of pks       keys[2]  the model's AutoPK counter
-- args     the pk ("" = take the next AutoPK), the transform map (see read_tmap), then per
--          given field: its position in M.fields, the number of items, the items (a
--          string/hfield: 1 value; set/list: the members; zset: member, score, ...; hash:
--          key, value, ...)
--
-- Checks everything before the first write. Returns the pk. Errors (nothing written):
--   LIMPYD_EXISTS {pk}, LIMPYD_UNIQUE {...}, LIMPYD_NEED {...}, LIMPYD_INVALID {...},
--   LIMPYD_NOTARGET {field, pk}

local function create(M, keys, args)
    local pk = args[1]
    local tmap, at = read_tmap(args, 2)

    if pk ~= '' and redis.call('SISMEMBER', keys[1], pk) == 1 then
        return fail('EXISTS', {pk = pk})
    end

    -- the given fields and the state each will have, in snapshot() form
    local given, after = {}, {}
    while at <= #args do
        local spec = M.fields[tonumber(args[at])]
        local count = tonumber(args[at + 1])
        local state
        if spec.type == 'string' or spec.type == 'hfield' then
            state = args[at + 2]
        else
            state = {}
            for i = 1, count do state[i] = args[at + 1 + i] end
        end
        after[spec.name] = state
        table.insert(given, spec)
        at = at + 2 + count
    end

    local affected = {}
    for _, spec in ipairs(given) do
        for _, index in ipairs(spec.indexes) do table.insert(affected, {spec, index}) end
    end
    local changes, missing = plan_changes(affected, {}, after, tmap)
    if missing then return fail('NEED', missing) end

    local holder_pk = pk
    if holder_pk == '' then holder_pk = '\0' end  -- no existing instance can have this pk
    local refused = check_changes(holder_pk, changes, keys[1])
    if refused then return refused end

    if pk == '' then pk = tostring(redis.call('INCR', keys[2])) end

    local entries = {}
    for _, spec in ipairs(given) do
        local state = after[spec.name]
        if spec.type == 'hfield' then
            table.insert(entries, spec.name)
            table.insert(entries, state)
        elseif spec.type == 'string' then
            redis.call('SET', spec.key .. pk, state)
        elseif #state > 0 then
            restore(spec, pk, state)
        end
    end
    if #entries > 0 then call_chunked('HSET', M.hash .. pk, entries, 2) end

    apply_changes(pk, changes)
    redis.call('SADD', keys[1], pk)
    return pk
end
