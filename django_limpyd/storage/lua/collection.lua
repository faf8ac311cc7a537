-- collection.lua: the pks of a collection (filtered, sorted, sliced) or their count, in one call.
--
-- KEYS[1]  the model's set of pks
-- ARGV[1]  plan (JSON): {tmp = prefix of temporary keys (deleted before returning),
--          filters = [operations, see django_limpyd.indexes.lookups], and-ed,
--          sort = nil | {by = SORT BY pattern or nil (by pk), alpha = bool, desc = bool},
--          limit = nil | {offset, count}, count = bool (return SCARD instead),
--          check = bool (drop pks no longer in KEYS[1])}
--
-- Returns the count (plan.count) or the list of pks.

local plan = cjson.decode(ARGV[1])
local temps = {}

local function temporary()
    local key = plan.tmp .. (#temps + 1)
    table.insert(temps, key)
    return key
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
        redis.call('SINTERSTORE', key, key, KEYS[1])
        return key
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

local source = KEYS[1]
if #plan.filters == 1 then
    source = materialize(plan.filters[1])
elseif #plan.filters > 1 then
    local keys = {}
    for _, op in ipairs(plan.filters) do table.insert(keys, materialize(op)) end
    source = temporary()
    redis.call('SINTERSTORE', source, unpack(keys))
end

local result
if plan.count then
    result = redis.call('SCARD', source)
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
        if #temps > 0 then redis.call('DEL', unpack(temps)) end
        return fail('SORT', {error = sorted.err})
    end
    result = sorted
    if plan.check and source ~= KEYS[1] then
        local kept = {}
        for _, pk in ipairs(result) do
            if redis.call('SISMEMBER', KEYS[1], pk) == 1 then table.insert(kept, pk) end
        end
        result = kept
    end
end

if #temps > 0 then redis.call('DEL', unpack(temps)) end
return result
