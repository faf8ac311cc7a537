-- kinds/text.lua: TextRangeIndex (django_limpyd/indexes/range.py): one sorted set at
-- index.base, members "value\0pk" at score 0 (ordered by bytes). Token: the indexed value.
KINDS.text = {
    add = function(index, owner, pk, token) redis.call('ZADD', index.base, 0, token .. '\0' .. pk) end,
    remove = function(index, owner, pk, token) redis.call('ZREM', index.base, token .. '\0' .. pk) end,
    holder = function(index, pk, token)
        local found = redis.call('ZRANGEBYLEX', index.base, '[' .. token .. '\0', '(' .. token .. '\1', 'LIMIT', 0, 2)
        for _, member in ipairs(found) do
            local other = string.sub(member, #token + 2)
            if other ~= pk then return other end
        end
        return nil
    end,
    -- a value holding NUL cannot be told apart from its pk in a member
    refuse = function(index, owner, token)
        if string.find(token, '\0', 1, true) then
            return {field = owner.name, value = token, reason = 'nul'}
        end
        return nil
    end,
}
