-- collection.lua: a collection's pks (filtered, sorted, sliced), their values, or their
-- count (or the count with them: total), in one call.
--
-- keys[1]  the model's set of pks
-- args[1]  plan (JSON):
--   tmp     prefix of temporary keys (all deleted before returning)
--   filters [operations, see django_limpyd.indexes.lookups], and-ed; also
--           {op = "key", key = k}: the members of an existing set, sorted set or list
--   source  nil | key of a stored collection (a list of pks, in order)
--   sort    nil | {by = SORT BY pattern or nil (by pk), alpha = bool, desc = bool}
--   score   nil | {key = sorted set, desc = bool}: order by the pks' scores in it
--   limit   nil | {offset, count (-1: all)}
--   count   bool: return how many instead
--   total   bool: return {count, result}: the count of the whole collection (filters,
--           source, check and score applied, limit not) with the (sliced) result
--   check   bool: drop pks no longer in keys[1]
--   values  nil | [{kind = "pk" | "string" | "hfield" | "score" | "set" | "list" | "zset" |
--           "hash", key = prefix, name = n}]: return those values for each pk instead of the
--           pk (a flat array; a multi-value field's value as an array: its members, its
--           items, member and score pairs, key and value pairs)
--   store   nil | {key = k, ttl = seconds or nil}: also store the resulting pks in list k
--
-- Errors: LIMPYD_SORT {error}, LIMPYD_NOSTORED {key} (a stored collection expired).

local function collection(keys, args)
    local plan = cjson.decode(args[1])
    local temps = {}

    local function temporary()
        local key = plan.tmp .. (#temps + 1)
        table.insert(temps, key)
        return key
    end

    local function cleanup()
        if #temps > 0 then redis.call('DEL', unpack(temps)) end
    end

    -- a temporary set of the pks found in sorted set members "value\0pk" (or plain pks)
    local function store_members(members, strip)
        local key = temporary()
        local pks = {}
        for _, member in ipairs(members) do
            if strip then
                local cut = string.find(member, '\0', 1, true)
                if cut then member = string.sub(member, cut + 1) end
            end
            table.insert(pks, member)
        end
        if #pks > 0 then call_chunked('SADD', key, pks) end
        return key
    end

    local function text_range(op)
        local v = op.value
        local bounds = {
            eq = {'[' .. v .. '\0', '(' .. v .. '\1'},
            gt = {'[' .. v .. '\1', '+'},
            gte = {'[' .. v .. '\0', '+'},
            lt = {'-', '(' .. v .. '\0'},
            lte = {'-', '(' .. v .. '\1'},
            startswith = {'[' .. v, '(' .. v .. '\255'},
        }
        return bounds[op.cmp]
    end

    local function materialize(op)
        if op.op == 'set' then
            return op.key
        elseif op.op == 'pks' then
            local key = temporary()
            call_chunked('SADD', key, op.values)
            redis.call('SINTERSTORE', key, key, keys[1])
            return key
        elseif op.op == 'key' then
            local kind = redis.call('TYPE', op.key).ok
            if kind == 'set' then return op.key end
            if kind == 'zset' then return store_members(redis.call('ZRANGE', op.key, 0, -1), false) end
            if kind == 'list' then return store_members(redis.call('LRANGE', op.key, 0, -1), false) end
            return temporary()  -- missing key: nothing
        elseif op.op == 'text' then
            local bounds = text_range(op)
            return store_members(redis.call('ZRANGEBYLEX', op.key, bounds[1], bounds[2]), true)
        elseif op.op == 'num' then
            return store_members(redis.call('ZRANGEBYSCORE', op.key, op.min, op.max), op.multi)
        elseif op.op == 'any' then
            local keys = {}
            for _, child in ipairs(op.ops) do table.insert(keys, materialize(child)) end
            local key = temporary()
            redis.call('SUNIONSTORE', key, unpack(keys))
            return key
        end
        error('unknown collection operation ' .. tostring(op.op))
    end

    -- counting one filter: straight from its index, without a temporary set
    if plan.count and #plan.filters == 1 and not plan.source then
        local op = plan.filters[1]
        if op.op == 'set' then return redis.call('SCARD', op.key) end
        if op.op == 'num' and not op.multi then return redis.call('ZCOUNT', op.key, op.min, op.max) end
        if op.op == 'text' and not op.multi then
            local bounds = text_range(op)
            return redis.call('ZLEXCOUNT', op.key, bounds[1], bounds[2])
        end
    end

    -- where the pks come from: a stored list kept in order, or a set
    local ordered_list = nil
    local sets = {}
    if plan.source then
        if redis.call('EXISTS', plan.source) == 0 then
            return fail('NOSTORED', {key = plan.source})
        end
        if #plan.filters == 0 and not plan.sort and not plan.score then
            ordered_list = plan.source
        else
            table.insert(sets, store_members(redis.call('LRANGE', plan.source, 0, -1), false))
        end
    end
    for _, op in ipairs(plan.filters) do table.insert(sets, materialize(op)) end

    local source = keys[1]
    if #sets == 1 then
        source = sets[1]
    elseif #sets > 1 then
        source = temporary()
        redis.call('SINTERSTORE', source, unpack(sets))
    end

    local function range_bounds()
        if not plan.limit then return 0, -1 end
        local first, count = plan.limit[1], plan.limit[2]
        if count < 0 then return first, -1 end
        if count == 0 then return 1, 0 end  -- an empty range
        return first, first + count - 1
    end

    -- total: how many pks the collection has without its limit, counted in this call
    -- along with the page (a paginator's count and page in one round trip). The set is
    -- built for the page anyway: counting it is SCARD (LLEN of a stored list), no sort.
    -- Pks the page would drop are not counted: with check, the intersection with
    -- keys[1] is counted and becomes the source; with score, ZINTERSTORE's count is
    -- taken below.
    local total = nil
    if plan.total then
        if ordered_list then
            total = redis.call('LLEN', ordered_list)
        elseif plan.check and source ~= keys[1] then
            local checked = temporary()
            total = redis.call('SINTERSTORE', checked, source, keys[1])
            source = checked
        else
            total = redis.call('SCARD', source)
        end
    end

    if plan.count then
        local counted
        if ordered_list then counted = redis.call('LLEN', ordered_list)
        else counted = redis.call('SCARD', source) end
        cleanup()
        return counted
    end

    local result
    if ordered_list then
        local first, last = range_bounds()
        result = redis.call('LRANGE', ordered_list, first, last)
    elseif plan.score then
        local scored = temporary()
        local scored_count = redis.call('ZINTERSTORE', scored, 2, source, plan.score.key,
            'WEIGHTS', 0, 1)
        if plan.total then total = scored_count end  -- pks without a score: not in the page
        local first, last = range_bounds()
        if plan.score.desc then
            result = redis.call('ZREVRANGE', scored, first, last)
        else
            result = redis.call('ZRANGE', scored, first, last)
        end
    else
        local args = {source}
        if plan.sort then
            if plan.sort.by then
                table.insert(args, 'BY')
                table.insert(args, plan.sort.by)
            end
        else
            table.insert(args, 'BY')
            table.insert(args, 'nosort')
        end
        if plan.limit then
            table.insert(args, 'LIMIT')
            table.insert(args, plan.limit[1])
            table.insert(args, plan.limit[2])
        end
        if plan.sort and plan.sort.alpha then table.insert(args, 'ALPHA') end
        if plan.sort and plan.sort.desc then table.insert(args, 'DESC') end
        local sorted = redis.pcall('SORT', unpack(args))
        if type(sorted) == 'table' and sorted.err then
            cleanup()
            return fail('SORT', {error = sorted.err})
        end
        result = sorted
    end

    if plan.check and source ~= keys[1] then
        local kept = {}
        for _, pk in ipairs(result) do
            if redis.call('SISMEMBER', keys[1], pk) == 1 then table.insert(kept, pk) end
        end
        result = kept
    end

    if plan.store then
        redis.call('DEL', plan.store.key)
        if #result > 0 then call_chunked('RPUSH', plan.store.key, result) end
        if plan.store.ttl then redis.call('EXPIRE', plan.store.key, plan.store.ttl) end
    end

    if plan.values then
        local rows = {}
        for _, pk in ipairs(result) do
            for _, wanted in ipairs(plan.values) do
                local value
                if wanted.kind == 'pk' then
                    value = pk
                elseif wanted.kind == 'string' then
                    value = redis.call('GET', wanted.key .. pk)
                elseif wanted.kind == 'hfield' then
                    value = redis.call('HGET', wanted.key .. pk, wanted.name)
                elseif wanted.kind == 'score' then
                    value = plan.score and redis.call('ZSCORE', plan.score.key, pk) or false
                elseif wanted.kind == 'set' then
                    value = redis.call('SMEMBERS', wanted.key .. pk)
                elseif wanted.kind == 'list' then
                    value = redis.call('LRANGE', wanted.key .. pk, 0, -1)
                elseif wanted.kind == 'zset' then
                    value = redis.call('ZRANGE', wanted.key .. pk, 0, -1, 'WITHSCORES')
                elseif wanted.kind == 'hash' then
                    value = redis.call('HGETALL', wanted.key .. pk)
                end
                table.insert(rows, value)
            end
        end
        result = rows
    end

    cleanup()
    if plan.total then return {total, result} end
    return result
end
