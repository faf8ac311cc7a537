-- kinds/num.lua: NumberRangeIndex (django_limpyd/indexes/range.py): one sorted set at
-- index.base, scored by number_of(value); members are pks ("value\0pk" for multi-value
-- fields, where one pk has several entries). Token: the indexed value.
local function num_member(owner, pk, token)
    if owner.multi then return token .. '\0' .. pk end
    return pk
end
KINDS.num = {
    -- a single-value entry moves with one ZADD (the member is the pk)
    apply = function(index, owner, pk, removed, added)
        if owner.multi or #added ~= 1 then return false end
        redis.call('ZADD', index.base, number_of(added[1]), pk)
        return true
    end,
    add = function(index, owner, pk, token)
        redis.call('ZADD', index.base, number_of(token), num_member(owner, pk, token))
    end,
    remove = function(index, owner, pk, token)
        redis.call('ZREM', index.base, num_member(owner, pk, token))
    end,
    holder = function(index, pk, token)
        local score = number_of(token)
        for _, member in ipairs(redis.call('ZRANGEBYSCORE', index.base, score, score)) do
            local cut = string.find(member, '\0', 1, true)
            if cut then member = string.sub(member, cut + 1) end
            if member ~= pk then return member end
        end
        return nil
    end,
}
