-- delete.lua: an instance, every key of it and every index entry of it, atomically; and
-- every reference to it held by related fields of other instances (M.referrers). The
-- work is in remove.lua.
--
-- keys[1]  the model's pks (zset)
-- args     the pk, then the header "|<n>" and the transform map when there is one
--          (see read_header)
--
-- Returns 1 if deleted, 0 if there was no such instance (an expired one is removed all
-- the same, answers 0, and is noted in M.reaped: see note_reaped). Errors (nothing written):
--   LIMPYD_NEED {index id: [raw values]}

local function delete(M, keys, args)
    local pk = args[1]
    local tmap = NO_TRANSFORMS
    if args[2] then
        local _, sent = read_header(args, 2)
        tmap = sent
    end

    if not has_pk(keys[1], pk) then return 0 end
    local gone = expired(M, pk)

    local removal, missing = removal_of(M, pk, tmap)
    if missing then return fail('NEED', missing) end
    remove(M, keys[1], pk, removal)
    if gone then
        note_reaped(M, {pk})  -- removed as expired: its post_delete comes from delete_expired()
        return 0
    end
    return 1
end

-- reap: delete instance args[1] only if its deadline passed (Model.delete_expired():
-- cleanup from Python, with signals); same keys and args as delete. Returns 1 if removed.
local function reap(M, keys, args)
    local pk = args[1]
    if not (has_pk(keys[1], pk) and expired(M, pk)) then
        if M.expiry and not has_pk(keys[1], pk) then redis.call('ZREM', M.expiry, pk) end
        return 0
    end
    local tmap = NO_TRANSFORMS
    if args[2] then
        local _, sent = read_header(args, 2)
        tmap = sent
    end
    local removal, missing = removal_of(M, pk, tmap)
    if missing then return fail('NEED', missing) end
    remove(M, keys[1], pk, removal)
    return 1
end
