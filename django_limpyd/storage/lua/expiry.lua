-- expiry.lua: the operations only a model with expiry has (M.expiry: its deadlines, a zset
-- of pk -> unix time in ms), and the wrapper of its writing calls.
--
-- expire    keys[1] the model's pks; args: the pk, the mode ("in": args[3] ms from now,
--           "at": at unix time args[3] in ms, "persist": no deadline). Returns 1 (0 for
--           persist of an instance without deadline). Errors: LIMPYD_MISSING {pk}
-- deadlines (read only) keys[1] the model's pks; args: pks. Returns, per pk, the ms left
--           before its deadline, -1 without deadline, -2 not an instance (or expired)
-- due       (read only) keys[1] the model's pks; args: how many. Returns up to that many
--           pks whose deadline passed (oldest first)
-- census    (read only) keys[1] the model's pks. Returns {pks stored, deadlines passed}:
--           the instances are the first minus the second (those await their cleanup)
-- reap      see delete.lua

local function with_expiry(operation, M, keys, args)
    expiring(M)
    return swept(M, keys[1], operation(M, keys, args))
end

local function expire(M, keys, args)
    local pk, mode = args[1], args[2]
    local now = EXPIRING.now
    if not has_pk(keys[1], pk) or expired(M, pk, now) then return fail('MISSING', {pk = pk}) end
    if mode == 'persist' then return redis.call('ZREM', M.expiry, pk) end
    local deadline = tonumber(args[3])
    if mode == 'in' then deadline = now + deadline end
    redis.call('ZADD', M.expiry, deadline, pk)
    return 1
end

local function deadlines(M, keys, args)
    local now, left = now_ms(), {}
    local known = redis.call('ZMSCORE', keys[1], unpack(args))
    local scores = redis.call('ZMSCORE', M.expiry, unpack(args))
    for i = 1, #args do
        if not known[i] then
            left[i] = -2
        elseif not scores[i] then
            left[i] = -1
        else
            local ms = tonumber(scores[i]) - now
            if ms <= 0 then left[i] = -2 else left[i] = ms end
        end
    end
    return left
end

local function due(M, keys, args)
    return redis.call('ZRANGEBYSCORE', M.expiry, '-inf', now_ms(), 'LIMIT', 0, tonumber(args[1]))
end

local function census(M, keys, args)
    return {redis.call('ZCARD', keys[1]), redis.call('ZCOUNT', M.expiry, '-inf', now_ms())}
end
