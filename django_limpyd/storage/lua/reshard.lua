-- reshard.lua: the check in front of every writing call of a shard of a sharded model
-- being resharded (see sharding/reshard.py). Only a library whose program has M.moves
-- (a shard of the old layout) or M.ready (a shard of the new layout, AutoPK) has it.
--
-- M.moves  a hash: "" -> "closed" once nothing may be created in this shard any more,
--          pk -> "moving" while the instance is copied to its shard of the new layout
-- M.ready  a key set once this shard's AutoPK counter is past every pk of the old layout
--
-- Returns nil when the call may run, else an error (nothing written):
--   LIMPYD_CLOSED {} (create here no more: the new layout), LIMPYD_MOVING {pk} (wait for
--   the copy, then find the instance), LIMPYD_NOTREADY {} (wait for the counters)

local function reshard_check(M, pk, creating)
    if M.moves then
        if creating then
            if redis.call('HEXISTS', M.moves, '') == 1 then return fail('CLOSED', {}) end
        elseif redis.call('HEXISTS', M.moves, pk) == 1 then
            return fail('MOVING', {pk = pk})
        end
    end
    if M.ready and creating and pk == '' and redis.call('EXISTS', M.ready) == 0 then
        return fail('NOTREADY', {})
    end
    return nil
end
