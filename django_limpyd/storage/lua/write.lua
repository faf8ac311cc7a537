-- write.lua: one command on one instance, with the changes of every index entry it moves
-- (the fields it writes and the indexes of other fields that depend on them), atomically.
-- Several fields are written at once only by one HSET/HDEL of InstanceHashFields (they
-- share the instance hash).
--
-- keys[1]  the model's pks (zset)         keys[2]  the key the command writes; when the write
--                                                creates the instance (its pk unknown
--                                                until then), the model's AutoPK counter
-- args     pk ("" = create the instance, AutoPK, with this write), the header (positions
--          in M.fields of the fields written, "3" or "3,4"; see read_header), the Redis
--          command and its arguments after the key
--
-- A model with expiry: an instance whose deadline passed is MISSING; an expired instance
-- holding a unique value the write takes is removed first (after every check); an
-- instance the write creates gets the model's default deadline (M.ttl).
--
-- Returns the result of the command ({pk, result} when the write created the instance,
-- whose pk the caller learns so). Errors, with nothing written (nothing replicated):
--   LIMPYD_MISSING {pk}, LIMPYD_UNIQUE {field, value, pk, index, together},
--   LIMPYD_NEED {index id: [raw values]}, LIMPYD_INVALID {field, value, reason},
--   LIMPYD_NOTARGET {field, pk}
--
-- The command's effect on the index entries is known before writing for most commands
-- (effects.lua); a removal runs at once (nothing can refuse it); any other command runs as
-- a trial that replicas and the AOF never see (REPL_NONE), is undone (time to live
-- included), and runs again for good only when its effects are accepted (the commands
-- that need a trial are deterministic: same state, same result).

local function write(M, keys, args)
    local pk = args[1]
    local fields, tmap, at = read_header(args, 2)
    local plan = write_plan(M, fields)
    local specs, affected = plan[1], plan[2]
    local command = args[at]
    local first = at + 1
    local creating = pk == ''
    local count  -- the AutoPK counter's new value, when creating

    if creating then
        count = (tonumber(redis.call('GET', keys[2])) or 0) + 1
        pk = auto_pk(M, count)
    elseif not has_pk(keys[1], pk) or (M.expiry and expired(M, pk, EXPIRING.now)) then
        return fail('MISSING', {pk = pk})
    end

    local key = specs[1].key .. pk
    local result
    local spec = specs[1]
    if plan[4] and not creating and ((command == 'HSET' and #args == first + 1 and args[first] == spec.name)
            or (command == 'SET' and #args == first)) then
        -- a plain replacement of one indexed value
        local value = args[#args]
        local old, refused = check_replacement(spec, key, pk, value, keys[1])
        refused = refused or reap_doomed(M, keys[1], tmap)
        if refused then return refused end
        result = redis.call(command, key, unpack(args, first))
        replace_indexed(spec, pk, old, value)
        return result
    end
    local delta = plan[5] and not creating and (DELTAS[command] or DELTA_AFTER[command])
    if delta then
        -- a set, sorted set or hash: read and move only what the command changes
        local states = {}
        for name, dep in pairs(plan[3]) do
            if name ~= spec.name then states[name] = snapshot(dep, pk) end
        end
        if DELTAS[command] then
            local removed, added = DELTAS[command](spec, key, args, first)
            if removed then
                local changes = delta_changes(affected, removed, added, states)
                local refused = check_changes(pk, changes, keys[1]) or reap_doomed(M, keys[1], tmap)
                if refused then return refused end
                result = call_command(command, key, args, first, M.scratch)
                apply_changes(pk, changes)
                return result
            end
        else
            result = call_command(command, key, args, first, M.scratch)
            local removed, step = {}, DELTA_AFTER[command]
            if type(result) == 'table' then
                for i = 1, #result, step do removed[#removed + 1] = result[i] end
            elseif result then
                removed[1] = result  -- SPOP without a count
            end
            apply_changes(pk, delta_changes(affected, removed, EMPTY, states))
            return result
        end
    end
    if #affected == 0 then
        result = call_command(command, key, args, first, M.scratch)
    else
        local before = take_states(plan[3], pk)
        local after
        if REMOVING[command] then
            -- only the old values' transforms are needed: ask for them before writing
            local _, missing = plan_changes(affected, before, {}, tmap)
            if missing then return fail('NEED', missing) end
            result = call_command(command, key, args, first, M.scratch)
            after = {}
            for _, spec in ipairs(specs) do after[spec.name] = snapshot(spec, pk) end
        else
            after = predict(command, specs, before, args, first)
            local trial = after == nil
            if trial then
                -- run, look, undo (with the keys' time to live): unreplicated; the
                -- command runs for good below, once accepted
                after = unreplicated(function()
                    local ttls = {}
                    for _, spec in ipairs(specs) do
                        if spec.type ~= 'hfield' then ttls[spec.name] = redis.call('PTTL', spec.key .. pk) end
                    end
                    call_command(command, key, args, first, M.scratch)
                    local states = {}
                    for _, spec in ipairs(specs) do
                        states[spec.name] = snapshot(spec, pk)
                        restore(spec, pk, before[spec.name])
                        local ttl = ttls[spec.name]
                        if ttl and ttl > 0 then redis.call('PEXPIRE', spec.key .. pk, ttl) end
                    end
                    return states
                end)
            end
            for name, state in pairs(before) do
                if after[name] == nil then after[name] = state end
            end
            local changes, missing = plan_changes(affected, before, after, tmap)
            if missing then return fail('NEED', missing) end
            local refused = check_changes(pk, changes, keys[1]) or reap_doomed(M, keys[1], tmap)
            if refused then return refused end
            result = call_command(command, key, args, first, M.scratch)
            apply_changes(pk, changes)
            after = nil
        end
        if after then
            for name, state in pairs(before) do
                if after[name] == nil then after[name] = state end
            end
            local changes = plan_changes(affected, before, after, tmap)
            apply_changes(pk, changes)
        end
    end

    if creating then
        redis.call('SET', keys[2], count)
        add_pk(M, keys[1], pk)
        if EXPIRING then set_deadline(M, pk, nil, EXPIRING.now) end
        return {pk, result}
    end
    return result
end
