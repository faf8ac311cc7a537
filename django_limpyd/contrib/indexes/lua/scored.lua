-- scored.lua: ScoredEqualIndex (django_limpyd/contrib/indexes/scored.py): one sorted set
-- of pks per indexed value, at index.base .. value, scored by the number in the score
-- field (index.deps[1]). Token: "value\0score"; no entry while the score field is unset.
local function scored_split(token)
    local cut = string.find(token, '\0', 1, true)
    return string.sub(token, 1, cut - 1), string.sub(token, cut + 1)
end
KINDS.scored = {
    token = function(index, value, states)
        local score = states[index.deps[1].name]
        if score then return value .. '\0' .. score end
        return nil
    end,
    add = function(index, owner, pk, token)
        local value, score = scored_split(token)
        redis.call('ZADD', index.base .. value, number_of(score), pk)
    end,
    remove = function(index, owner, pk, token)
        redis.call('ZREM', index.base .. (scored_split(token)), pk)
    end,
    holder = function(index, pk, token)
        for _, other in ipairs(redis.call('ZRANGE', index.base .. (scored_split(token)), 0, 1)) do
            if other ~= pk then return other end
        end
        return nil
    end,
    describe = function(token) return (scored_split(token)) end,
}
