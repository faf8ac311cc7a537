-- with.lua: EqualIndexWith (django_limpyd/contrib/indexes/together.py): one set of pks per
-- combination of the values of the indexed field and of its other fields (index.deps), at
-- index.base .. token. Token: "len:value:len:value..." (together_token in Python); no entry
-- until every field is set.
KINDS.with = {
    token = function(index, value, states)
        local parts = {#value .. ':' .. value}
        for _, dep in ipairs(index.deps) do
            local other = states[dep.name]
            if not other then return nil end
            table.insert(parts, #other .. ':' .. other)
        end
        return table.concat(parts, ':')
    end,
    add = function(index, owner, pk, token) redis.call('SADD', index.base .. token, pk) end,
    remove = function(index, owner, pk, token) redis.call('SREM', index.base .. token, pk) end,
    holder = function(index, pk, token)
        for _, other in ipairs(redis.call('SRANDMEMBER', index.base .. token, 2)) do
            if other ~= pk then return other end
        end
        return nil
    end,
}
