-- read.lua: a read command on an instance whose existence is checked in the same call
-- (a lazily connected instance's first read: one round trip). Writes nothing.
--
-- keys[1]  the model's pks (zset)         keys[2]  the key read
-- args     the pk, the Redis command, its arguments after the key
--
-- Returns the command's reply. Errors: LIMPYD_MISSING {pk} (also: its deadline passed)

local function read(M, keys, args)
    if not alive(M, keys[1], args[1]) then
        return fail('MISSING', {pk = args[1]})
    end
    return redis.call(args[2], keys[2], unpack(args, 3))
end
