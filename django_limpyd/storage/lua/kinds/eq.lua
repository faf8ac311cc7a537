-- kinds/eq.lua: EqualIndex (django_limpyd/indexes/equal.py): one set of pks per indexed
-- value, at index.base .. value. Token: the indexed value.
KINDS.eq = {
    add = function(index, owner, pk, token) redis.call('SADD', index.base .. token, pk) end,
    remove = function(index, owner, pk, token) redis.call('SREM', index.base .. token, pk) end,
    -- the pk other than `pk` already holding `token`, or nil
    holder = function(index, pk, token)
        -- one member (no array reply) answers the usual cases: none, or another pk
        local one = redis.call('SRANDMEMBER', index.base .. token)
        if not one then return nil end
        if one ~= pk then return one end
        for _, other in ipairs(redis.call('SRANDMEMBER', index.base .. token, 2)) do
            if other ~= pk then return other end
        end
        return nil
    end,
}
