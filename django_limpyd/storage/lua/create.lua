-- create.lua: a whole new instance (pk, every given field, index entries), atomically.
--
-- keys[1]  the model's pks (zset)         keys[2]  the model's AutoPK counter
-- args     the pk ("" = take the next AutoPK), for a model with expiry only: the time to
--          live in ms ("": the model's default, "0": none), the header (see read_header): the given
--          fields, "<position>" for a single value, "<position>*" for a multi-value field,
--          comma-separated), then the items of each given field in that order (a
--          string/hfield: its value; a multi-value field: the number of items, then the
--          items: set/list members; zset: member, score, ...; hash: key, value, ...)
--
-- Checks everything before the first write (then, for a model with expiry, removes the
-- expired instances holding its pk or a unique value it takes). Returns the pk. Errors (nothing written):
--   LIMPYD_EXISTS {pk}, LIMPYD_UNIQUE {...}, LIMPYD_NEED {...}, LIMPYD_INVALID {...},
--   LIMPYD_NOTARGET {field, pk}

-- the values of the given fields, from args[at..], in their order (`multi`: which are
-- multi-value fields, whose items come after their count)
local function create_values(args, at, multi)
    local values = {}
    for i = 1, #multi do
        if multi[i] then
            local state, count = {}, tonumber(args[at])
            for j = 1, count do state[j] = args[at + j] end
            values[i] = state
            at = at + 1 + count
        else
            values[i] = args[at]
            at = at + 1
        end
    end
    return values
end

-- the create of a plan whose index entries are plain values of single-value fields
-- (create_plan's plan[4]): checks, then writes, without change lists
local function create_lean(M, keys, args, pk, at, plan, ttl)
    local given, entries = plan[1], plan[5]
    local values = create_values(args, at, plan[2])
    local holder_pk = pk
    if holder_pk == '' then holder_pk = '\0' end  -- no existing instance can have this pk
    for j = 1, #entries, 3 do
        local refused = check_token(entries[j], entries[j + 1], holder_pk, values[entries[j + 2]], keys[1])
        if refused then return refused end
    end
    local doomed = reap_doomed(M, keys[1], NO_TRANSFORMS)
    if doomed then return doomed end

    if pk == '' then pk = auto_pk(M, redis.call('INCR', keys[2])) end
    local hashed = {}
    for i = 1, #given do
        local spec, value = given[i], values[i]
        if spec.type == 'hfield' then
            hashed[#hashed + 1] = spec.name
            hashed[#hashed + 1] = value
        elseif spec.type == 'string' then
            redis.call('SET', spec.key .. pk, value)
        elseif #value > 0 then
            restore(spec, pk, value)
        end
    end
    if #hashed > 0 then call_chunked('HSET', M.hash .. pk, hashed, 2) end
    for j = 1, #entries, 3 do
        local index = entries[j]
        KINDS[index.kind].add(index, entries[j + 1], pk, values[entries[j + 2]])
    end
    add_pk(M, keys[1], pk)
    if ttl then set_deadline(M, pk, ttl, EXPIRING.now) end
    return pk
end

local function create(M, keys, args)
    local pk = args[1]
    local ttl, first = nil, 2
    if M.expiry then ttl, first = args[2], 3 end
    local fields, tmap, at = read_header(args, first)

    if pk ~= '' and has_pk(keys[1], pk) then
        if not expired(M, pk, ttl and EXPIRING.now) then return fail('EXISTS', {pk = pk}) end
        EXPIRING.doomed[pk] = true  -- expired: replaced
    end

    -- the given fields and the state each will have, in snapshot() form
    local plan = create_plan(M, fields)
    local given, affected = plan[1], plan[3]
    if plan[4] and tmap == NO_TRANSFORMS then return create_lean(M, keys, args, pk, at, plan, ttl) end
    local after = {}
    for i, value in ipairs(create_values(args, at, plan[2])) do after[given[i].name] = value end

    local changes, missing = plan_changes(affected, EMPTY, after, tmap)
    if missing then return fail('NEED', missing) end

    local holder_pk = pk
    if holder_pk == '' then holder_pk = '\0' end  -- no existing instance can have this pk
    local refused = check_changes(holder_pk, changes, keys[1]) or reap_doomed(M, keys[1], tmap)
    if refused then return refused end

    if pk == '' then pk = auto_pk(M, redis.call('INCR', keys[2])) end

    local entries = {}
    for i = 1, #given do
        local spec = given[i]
        local state = after[spec.name]
        if spec.type == 'hfield' then
            entries[#entries + 1] = spec.name
            entries[#entries + 1] = state
        elseif spec.type == 'string' then
            redis.call('SET', spec.key .. pk, state)
        elseif #state > 0 then
            restore(spec, pk, state)
        end
    end
    if #entries > 0 then call_chunked('HSET', M.hash .. pk, entries, 2) end

    apply_changes(pk, changes)
    add_pk(M, keys[1], pk)
    if ttl then set_deadline(M, pk, ttl, EXPIRING.now) end
    return pk
end
