-- collection.lua: a collection's pks (filtered, sorted, sliced), their values, or their
-- count (or the count with them: total), in one call that writes nothing (a read-only
-- function on Redis 7: it runs on replicas). Only `store` writes: the resulting pks in a
-- list.
--
-- keys[1]  the model's pks (a sorted set: by number in an AutoPK model, else by bytes);
--          a model with expiry drops the pks whose deadline passed (drop_expired)
-- args[1]  plan (JSON):
--   filters [operations, see django_limpyd.indexes.lookups], and-ed; also
--           {op = "key", key = k}: the members of an existing set, sorted set or list;
--           {op = "not", ops = {operation}}: the pks the operation does not hold;
--           {op = "all", ops = {operations}}: the pks every operation holds (no ops:
--           every pk); {op = "odd", ops = {operations}}: the pks an odd number of
--           operations hold (XOR); {op = "any", ops = {...}} (see lookups) may hold them too
--   source  nil | key of a stored collection (a list of pks, in order)
--   sort    nil | {by = SORT BY pattern or nil (by pk), alpha = bool, desc = bool,
--           get = {prefix, hash field or nil}: the value sorted by, per pk,
--           walk = nil | {key, kind = "text" | "num"}: the field's range index in its order}
--           | {keys = {{name, get = nil (the pk) | {prefix, hash field or nil},
--           alpha, desc}, ...}, walk = nil | the first value's range index}: by several
--           values, sorted in the function (candidates, or walk_several for a page)
--   score   nil | {key = sorted set, desc = bool}: order by the pks' scores in it
--   limit   nil | {offset, count (-1: all)}
--   count   bool: return how many instead
--   total   bool: return {count, result}: the count of the whole collection (filters,
--           source, check and score applied, limit not) with the (sliced) result
--   check   bool: drop pks no longer in keys[1]
--   auto    bool: an AutoPK model (pks in number order; else in byte order)
--   cluster bool: on a Redis Cluster (no SORT BY/GET patterns there)
--   expiring bool: a model with expiry (never answered by direct index reads in Python)
--   values  nil | [{kind = "pk" | "string" | "hfield" | "score" | "set" | "list" | "zset" |
--           "hash", key = prefix, name = n}]: return those values for each pk instead of the
--           pk (a flat array; a multi-value field's value as an array: its members, its
--           items, member and score pairs, key and value pairs)
--   explain bool: return how it runs instead: {strategy, {steps...}, estimated cost (the
--           number of members read or tested)}
--
-- How the pks are found (the strategy, what explain() shows):
--   "index count"  a count of one filter answered by its index (SCARD/ZCOUNT/ZLEXCOUNT)
--   "pk order"     no filter, unsorted (or sorted by pk in the pks' order): ZRANGE of the
--                  pks by rank
--   "sort key"     no filter, or one set filter: SORT_RO of that key, BY the sorted field
--                  (unsorted: by pk), LIMIT the page (Redis 6.2, and a Redis Cluster,
--                  which refuses BY and GET patterns: read and sorted in the script)
--   "stored list"  a stored collection read in its order, LRANGE of the page
--   "index walk"   sorted by a field with a matching range index: that sorted set read
--                  in order (see walk_index); a page sorted by several values, the
--                  first one's index read up to the page and its ties (walk_several)
--   "candidates"   the smallest filter's pks (counted first, read once), the others
--                  tested on them (SMISMEMBER/ZMSCORE, or read whole when they cannot be
--                  tested by pk; negations only tested), then sorted (values read per
--                  candidate, one or several) and sliced in the function, without
--                  temporary keys
--
-- Errors: LIMPYD_SORT {error}, LIMPYD_NOSTORED {key} (a stored collection expired),
-- LIMPYD_KEYTYPE {key, type} (intersect() with a key that is not a set, sorted set or list).

-- Redis 7 has the read-only SORT_RO (SORT is a write command: refused in a no-writes
-- function, and on a read-only replica). Redis 6.2 has no read-only SORT: there the key
-- is read whole and sorted in the script (correct on replicas, slower on big keys)
local SORT_COMMAND = redis.REDIS_VERSION_NUM and 'SORT_RO' or nil
-- whether texts compare by their bytes here (LC_COLLATE C), as a TextRangeIndex orders
-- them; SORT ALPHA and Lua compare texts with the server's locale (strcoll)
local BYTEWISE = ('B' < 'a') and ('Z' < '_') and ('a' < '\195\169')
local HAS_INTERCARD = redis.REDIS_VERSION_NUM ~= nil  -- Redis 7: ZINTERCARD
local MEMBERS_PER_CALL = 4000

-- one reply per member, from a command taking many members (SMISMEMBER, ZMSCORE)
local function per_member(command, key, members)
    local replies = {}
    for first = 1, #members, MEMBERS_PER_CALL do
        local last = math.min(first + MEMBERS_PER_CALL - 1, #members)
        local chunk = redis.call(command, key, unpack(members, first, last))
        for i = 1, #chunk do replies[first + i - 1] = chunk[i] end
    end
    return replies
end

local function keep(pks, flags)
    local kept = {}
    for i = 1, #pks do
        if flags[i] then kept[#kept + 1] = pks[i] end
    end
    return kept
end

-- whether each pk is a member of set `key`: {true/false, ...}
local function in_set(key, pks)
    local replies = per_member('SMISMEMBER', key, pks)
    for i = 1, #pks do replies[i] = replies[i] == 1 end
    return replies
end

-- whether each pk is one of the model's (the sorted set `key`): {true/false, ...}
local function in_pks(key, pks)
    local scores = per_member('ZMSCORE', key, pks)
    for i = 1, #pks do scores[i] = scores[i] ~= false end
    return scores
end

-- pks in the model's order: by number (AutoPK), else by bytes
local function pk_order(pks, auto)
    if auto then
        table.sort(pks, function(a, b) return tonumber(a) < tonumber(b) end)
    else
        table.sort(pks)
    end
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
    local range = bounds[op.cmp]
    if op.prefix then
        -- the entries of one key of a HashField: open bounds stay within its tokens
        if range[1] == '-' then range[1] = '[' .. op.prefix end
        if range[2] == '+' then range[2] = '(' .. op.prefix .. '\255' end
    end
    return range
end

-- a ZRANGEBYSCORE bound ("(1.5", "-inf", "3") as a test on a score
local function score_bound(text, above)
    local exclusive = string.sub(text, 1, 1) == '('
    if exclusive then text = string.sub(text, 2) end
    local number
    if text == '-inf' then number = -math.huge
    elseif text == '+inf' or text == 'inf' then number = math.huge
    else number = tonumber(text) end
    if above then
        if exclusive then return function(s) return s > number end end
        return function(s) return s >= number end
    end
    if exclusive then return function(s) return s < number end end
    return function(s) return s <= number end
end

local function key_type(key)
    local kind = redis.call('TYPE', key).ok
    if kind ~= 'set' and kind ~= 'zset' and kind ~= 'list' and kind ~= 'none' then
        return nil, fail('KEYTYPE', {key = key, type = kind})
    end
    return kind
end

-- "value\0pk" members of a text index (or of a number index of a multi-value field): pks
local function strip(members)
    for i, member in ipairs(members) do
        local cut = string.find(member, '\0', 1, true)
        if cut then members[i] = string.sub(member, cut + 1) end
    end
    return members
end

local function distinct(pks)
    local seen, kept = {}, {}
    for _, pk in ipairs(pks) do
        if not seen[pk] then
            seen[pk] = true
            kept[#kept + 1] = pk
        end
    end
    return kept
end

-- How many pks an operation may hold (an estimate for `any` and multi-value indexes:
-- a pk may be counted more than once)
local function size(op)
    -- a negation is never read (its pks are all the others): tested only
    if op.op == 'not' then return math.huge end
    if op.op == 'all' then
        -- its smallest part (none: every pk, never read)
        local smallest = math.huge
        for _, child in ipairs(op.ops) do smallest = math.min(smallest, size(child)) end
        return smallest
    end
    if op.op == 'set' then return redis.call('SCARD', op.key) end
    if op.op == 'pks' then return #op.values end
    if op.op == 'text' then
        local bounds = text_range(op)
        return redis.call('ZLEXCOUNT', op.key, bounds[1], bounds[2])
    end
    if op.op == 'num' then return redis.call('ZCOUNT', op.key, op.min, op.max) end
    if op.op == 'key' then
        if op.type == 'set' then return redis.call('SCARD', op.key) end
        if op.type == 'zset' then return redis.call('ZCARD', op.key) end
        if op.type == 'list' then return redis.call('LLEN', op.key) end
        return 0
    end
    if op.op == 'any' or op.op == 'odd' then
        local total = 0
        for _, child in ipairs(op.ops) do total = total + size(child) end
        return total
    end
    error('unknown collection operation ' .. tostring(op.op))
end

local contains

-- the pks of an operation, each once (not of a negation: it is only tested)
local function members(op, steps)
    local pks
    if op.op == 'all' then
        -- the pks of its smallest part, tested against the others
        local smallest, smallest_size = nil, math.huge
        for i, child in ipairs(op.ops) do
            local count = size(child)
            if count < smallest_size then smallest, smallest_size = i, count end
        end
        pks = members(op.ops[smallest], steps)
        for i, child in ipairs(op.ops) do
            if i ~= smallest and #pks > 0 then pks = keep(pks, contains(child, pks, steps)) end
        end
        return pks
    elseif op.op == 'set' then
        pks = redis.call('SMEMBERS', op.key)
    elseif op.op == 'pks' then
        -- pks given by value: those of existing instances
        pks = op.values
        if #pks > 0 then pks = keep(pks, in_pks(op.all, pks)) end
    elseif op.op == 'text' then
        local bounds = text_range(op)
        return distinct(strip(redis.call('ZRANGEBYLEX', op.key, bounds[1], bounds[2])))
    elseif op.op == 'num' then
        pks = redis.call('ZRANGEBYSCORE', op.key, op.min, op.max)
        if op.multi then return distinct(strip(pks)) end
    elseif op.op == 'key' then
        if op.type == 'set' then pks = redis.call('SMEMBERS', op.key)
        elseif op.type == 'zset' then pks = redis.call('ZRANGE', op.key, 0, -1)
        elseif op.type == 'list' then return distinct(redis.call('LRANGE', op.key, 0, -1))
        else pks = {} end
    elseif op.op == 'any' or op.op == 'odd' then
        local all = {}
        for _, child in ipairs(op.ops) do
            for _, pk in ipairs(members(child, steps)) do all[#all + 1] = pk end
        end
        all = distinct(all)
        if op.op == 'odd' and #all > 0 then all = keep(all, contains(op, all, steps)) end
        return all
    end
    return pks
end

-- whether each pk is in the operation's pks: {true/false, ...} aligned with pks; by pk
-- (SMISMEMBER, ZMSCORE) where the index allows it, else by reading its pks
function contains(op, pks, steps)
    if op.op == 'set' or (op.op == 'key' and op.type == 'set') then
        steps[#steps + 1] = 'SMISMEMBER ' .. op.key
        return in_set(op.key, pks)
    end
    if (op.op == 'num' and not op.multi) or (op.op == 'key' and op.type == 'zset') then
        steps[#steps + 1] = 'ZMSCORE ' .. op.key
        local scores = per_member('ZMSCORE', op.key, pks)
        local low = op.op == 'num' and score_bound(op.min, true)
        local high = op.op == 'num' and score_bound(op.max, false)
        for i = 1, #pks do
            local score = scores[i]
            if score and low then
                local number = tonumber(score)
                scores[i] = low(number) and high(number)
            else
                scores[i] = score and true or false
            end
        end
        return scores
    end
    if op.op == 'not' then
        local inside = contains(op.ops[1], pks, steps)
        for i = 1, #pks do inside[i] = not inside[i] end
        return inside
    end
    if op.op == 'all' then
        -- each part tested on the pks the previous parts kept
        local found, left, at = {}, {}, {}
        for i = 1, #pks do
            found[i] = true
            left[i], at[i] = pks[i], i
        end
        for _, child in ipairs(op.ops) do
            if #left == 0 then break end
            local inside = contains(child, left, steps)
            local next_left, next_at = {}, {}
            for j = 1, #left do
                if inside[j] then
                    next_left[#next_left + 1], next_at[#next_at + 1] = left[j], at[j]
                else
                    found[at[j]] = false
                end
            end
            left, at = next_left, next_at
        end
        return found
    end
    if op.op == 'any' then
        local found = {}
        for i = 1, #pks do found[i] = false end
        for _, child in ipairs(op.ops) do
            local inside = contains(child, pks, steps)
            for i = 1, #pks do found[i] = found[i] or inside[i] end
        end
        return found
    end
    if op.op == 'odd' then
        local found = {}
        for i = 1, #pks do found[i] = false end
        for _, child in ipairs(op.ops) do
            local inside = contains(child, pks, steps)
            for i = 1, #pks do found[i] = found[i] ~= inside[i] end
        end
        return found
    end
    -- read whole (once per call): pks given by value, text ranges, lists...
    local lookup = op.lookup
    if not lookup then
        if op.op ~= 'pks' then steps[#steps + 1] = 'read ' .. op.op .. ' ' .. tostring(op.key) end
        lookup = {}
        for _, pk in ipairs(members(op, steps)) do lookup[pk] = true end
        op.lookup = lookup
    end
    local found = {}
    for i = 1, #pks do found[i] = lookup[pks[i]] == true end
    return found
end

local function page_bounds(plan)
    -- 1-based first and last positions of the page (last < first: empty)
    if not plan.limit then return 1, math.huge end
    local offset, count = plan.limit[1], plan.limit[2]
    if count < 0 then return offset + 1, math.huge end
    return offset + 1, offset + count
end

local function slice(pks, plan)
    local first, last = page_bounds(plan)
    if first == 1 and last >= #pks then return pks end
    local page = {}
    for i = first, math.min(last, #pks) do page[#page + 1] = pks[i] end
    return page
end

-- the value of each pk sorted by (`get`: {prefix, hash field or nil}; nil: the pk), as
-- numbers unless alpha (a missing value: 0, or false before every text); nil and an
-- error reply when a value is not a number
local function sort_values(pks, get, alpha, name)
    local values = {}
    for _, pk in ipairs(pks) do
        local value = pk
        if get then
            if get[2] then value = redis.call('HGET', get[1] .. pk, get[2])
            else value = redis.call('GET', get[1] .. pk) end
        end
        value = value or false
        if not alpha then
            local number = value == false and 0 or tonumber(value)
            if number == nil or number ~= number then
                return nil, fail('SORT', {error = "One or more scores can't be converted into double",
                    field = name})
            end
            value = number
        end
        values[pk] = value
    end
    return values
end

-- whether value a comes before value b (false: a missing text, first)
local function before(a, b)
    if a == false then return b ~= false end
    if b == false then return false end
    return a < b
end

-- sorting candidates in the function, as SORT would (BY a field, ALPHA, DESC), equal
-- values in pk order; or by several values (sort.keys), equal ones in the model's pk
-- order
local function sort_candidates(pks, sort, auto)
    if sort.keys then
        local columns = {}
        for i, key in ipairs(sort.keys) do
            local values, failure = sort_values(pks, key.get, key.alpha, key.name)
            if failure then return failure end
            columns[i] = values
        end
        local keys, count = sort.keys, #sort.keys
        local number = {}
        if auto then for _, pk in ipairs(pks) do number[pk] = tonumber(pk) end end
        table.sort(pks, function(a, b)
            for i = 1, count do
                local va, vb = columns[i][a], columns[i][b]
                if va ~= vb then
                    if keys[i].desc then return before(vb, va) end
                    return before(va, vb)
                end
            end
            if auto then return number[a] < number[b] end
            return a < b
        end)
        return nil
    end
    local keys, failure = sort_values(pks, sort.get, sort.alpha, nil)
    if failure then return failure end
    -- as SORT: equal numbers in the order of their pks (reversed by DESC), equal texts
    -- in the order of their pks (not reversed)
    local desc, alpha = sort.desc, sort.alpha
    table.sort(pks, function(a, b)
        local ka, kb = keys[a], keys[b]
        if ka == kb then
            if desc and not alpha then return b < a end
            return a < b
        end
        if desc then return before(kb, ka) end
        return before(ka, kb)
    end)
    return nil
end

-- sorting candidates by their scores in a sorted set (those without one dropped)
local function by_score(pks, score, steps)
    steps[#steps + 1] = 'ZMSCORE ' .. score.key
    local scores = per_member('ZMSCORE', score.key, pks)
    local kept, of = {}, {}
    for i = 1, #pks do
        if scores[i] then
            kept[#kept + 1] = pks[i]
            of[pks[i]] = tonumber(scores[i])
        end
    end
    local desc = score.desc
    table.sort(kept, function(a, b)
        local sa, sb = of[a], of[b]
        local before
        if sa == sb then before = a < b else before = sa < sb end
        if desc then return not before and a ~= b end
        return before
    end)
    return kept
end

local function read_values(plan, result)
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
            rows[#rows + 1] = value
        end
    end
    return rows
end

-- SORT_RO of an existing key (the pks, or one set filter): the page straight from Redis
local function sort_key(key, plan)
    -- a Redis Cluster refuses SORT's BY and GET patterns: sorted in the script there
    if not SORT_COMMAND or (plan.cluster and plan.sort and plan.sort.by) then
        local pks
        if redis.call('TYPE', key).ok == 'zset' then pks = redis.call('ZRANGE', key, 0, -1)
        else pks = redis.call('SMEMBERS', key) end
        if plan.sort then
            local failure = sort_candidates(pks, plan.sort)
            if failure then return nil, failure end
        else
            pk_order(pks, plan.auto)
        end
        return slice(pks, plan)
    end
    local args = {key}
    if plan.sort then
        if plan.sort.by then
            args[#args + 1] = 'BY'
            args[#args + 1] = plan.sort.by
        end
    elseif not plan.auto then
        args[#args + 1] = 'ALPHA'  -- unsorted: in pk order (numbers for an AutoPK model)
    end
    if plan.limit then
        args[#args + 1] = 'LIMIT'
        args[#args + 1] = plan.limit[1]
        args[#args + 1] = plan.limit[2]
    end
    if plan.sort and plan.sort.alpha then args[#args + 1] = 'ALPHA' end
    if plan.sort and plan.sort.desc then args[#args + 1] = 'DESC' end
    if plan.values and not plan.cluster and not (plan.check and key ~= plan.pks) then
        -- the values of each pk read by SORT itself (GET patterns), when it can read them
        local gets = {}
        for _, wanted in ipairs(plan.values) do
            if wanted.kind == 'pk' then gets[#gets + 1] = '#'
            elseif wanted.kind == 'string' then gets[#gets + 1] = wanted.key .. '*'
            elseif wanted.kind == 'hfield' then gets[#gets + 1] = wanted.key .. '*->' .. wanted.name
            else gets = nil break end
        end
        if gets then
            for _, pattern in ipairs(gets) do
                args[#args + 1] = 'GET'
                args[#args + 1] = pattern
            end
            plan.rows_read = true
        end
    end
    local sorted = redis.pcall(SORT_COMMAND, unpack(args))
    if type(sorted) == 'table' and sorted.err then
        return nil, fail('SORT', {error = sorted.err})
    end
    return sorted
end

-- a page of the pks in the order of the sorted field's range index (sort.walk = {key,
-- kind}: a text or number index of a single-value field, without transform, matching
-- alpha; a text index only where the server collates by bytes), or of the pks' sorted
-- set itself (kind 'pk': unsorted, or sorted by pk), nil when another strategy costs
-- less. Only when every instance is in the index
-- (an instance without a value is not: SORT would put it first). Without filters: the
-- page by rank, O(log n + page). With filters: the index is read in chunks, each pk
-- tested against the filters, until the page is full (a cost in page / selectivity),
-- chosen when that estimate is below the size of the smallest filter; not for counts.
local function walk_index(keys, plan, filters, steps, walk)
    if walk.kind == 'text' and not BYTEWISE then return nil end  -- SORT's order differs
    local desc = plan.sort and plan.sort.desc
    local all = redis.call('ZCARD', keys[1])
    if redis.call('ZCARD', walk.key) ~= all then return nil end
    local first, last = page_bounds(plan)
    local function read(start, stop)
        local members = desc and redis.call('ZREVRANGE', walk.key, start, stop)
            or redis.call('ZRANGE', walk.key, start, stop)
        if walk.kind == 'text' then strip(members) end
        return members
    end
    if #filters == 0 then
        if plan.total then plan.walk_total = all end
        steps[#steps + 1] = (desc and 'ZREVRANGE ' or 'ZRANGE ') .. walk.key .. ' by rank'
        plan.cost = 1
        if last < first then return {} end
        local page = read(first - 1, last == math.huge and -1 or last - 1)
        plan.cost = 1 + #page
        return page
    end
    if plan.total or plan.count or last == math.huge then return nil end
    local smallest = nil
    for _, op in ipairs(filters) do
        local count = size(op)
        if smallest == nil or count < smallest then smallest = count end
    end
    if smallest == 0 then return nil end
    local estimate = last * all / smallest
    if estimate >= smallest then return nil end
    steps[#steps + 1] = (desc and 'ZREVRANGE ' or 'ZRANGE ') .. walk.key
        .. ' in chunks (about ' .. math.ceil(estimate) .. ' of ' .. all .. ' members)'
    local matched, start = {}, 0
    -- the first chunk is what the estimate says the page needs (and a quarter more):
    -- most pages take one read; each next chunk is twice as big
    local chunk = math.min(math.max(math.ceil(estimate * 1.25), 64), 8192)
    plan.cost = 0
    while #matched < last do
        local pks = read(start, start + chunk - 1)
        plan.cost = plan.cost + #pks
        for _, op in ipairs(filters) do
            if #pks == 0 then break end
            local tested = {}
            pks = keep(pks, contains(op, pks, tested))
        end
        for _, pk in ipairs(pks) do matched[#matched + 1] = pk end
        if start + chunk >= all then break end
        start = start + chunk
        chunk = math.min(chunk * 2, 16384)
    end
    for _, op in ipairs(filters) do steps[#steps + 1] = 'test ' .. op.op .. ' ' .. tostring(op.key) end
    return slice(matched, plan)
end

-- 'sort N candidates [by -a, b]': the step of a sort in the function
local function sort_step(count, sort)
    local step = 'sort ' .. count .. ' candidates'
    if sort.keys then
        local names = {}
        for i, key in ipairs(sort.keys) do names[i] = (key.desc and '-' or '') .. key.name end
        step = step .. ' by ' .. table.concat(names, ', ')
    end
    return step
end

-- a page sorted by several values (sort.keys) whose first has a range index (walk, as
-- for walk_index): that index read in order, in chunks (pks tested against the
-- filters), until the page is full and every pk holding the first value of its last
-- one is read; those pks sorted by every value in the function, then sliced. nil when
-- another strategy costs less (as walk_index: with filters, when the page / selectivity
-- estimate is below the smallest filter), for counts, for unsliced pages, and for the
-- total of filtered pages.
local function walk_several(keys, plan, filters, steps, walk)
    if walk.kind == 'text' and not BYTEWISE then return nil end
    local first, last = page_bounds(plan)
    if plan.count or last == math.huge or (plan.total and #filters > 0) then return nil end
    local all = redis.call('ZCARD', keys[1])
    if redis.call('ZCARD', walk.key) ~= all then return nil end
    if last < first then
        plan.cost = 1
        if plan.total then plan.walk_total = all end
        return {}
    end
    local chunk = math.max(last, 64)
    if #filters > 0 then
        local smallest = nil
        for _, op in ipairs(filters) do
            local count = size(op)
            if smallest == nil or count < smallest then smallest = count end
        end
        if smallest == 0 then return nil end
        local estimate = last * all / smallest
        if estimate >= smallest then return nil end
        chunk = math.max(chunk, math.ceil(estimate * 1.25))
    end
    chunk = math.min(chunk, 8192)
    local desc = plan.sort.keys[1].desc
    -- {pks}, {first values} of members start..stop of the index, in the sort's order
    local function read(start, stop)
        local pks, values = {}, {}
        if walk.kind == 'num' then
            local flat = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', walk.key, start, stop, 'WITHSCORES')
            for i = 1, #flat, 2 do
                pks[#pks + 1], values[#values + 1] = flat[i], flat[i + 1]
            end
        else
            local members = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', walk.key, start, stop)
            for i, member in ipairs(members) do
                local cut = string.find(member, '\0', 1, true)
                pks[i], values[i] = string.sub(member, cut + 1), string.sub(member, 1, cut - 1)
            end
        end
        return pks, values
    end
    local matched, boundary, start = {}, nil, 0
    plan.cost = 0
    while true do
        local pks, values = read(start, start + chunk - 1)
        plan.cost = plan.cost + #pks
        local inside = {}
        for i = 1, #pks do inside[i] = true end
        for _, op in ipairs(filters) do
            local found = contains(op, pks, {})
            for i = 1, #pks do inside[i] = inside[i] and found[i] end
        end
        local done = false
        for i = 1, #pks do
            if inside[i] then
                if boundary ~= nil and values[i] ~= boundary then done = true break end
                matched[#matched + 1] = pks[i]
                if #matched == last then boundary = values[i] end
            end
        end
        if done or start + chunk >= all then break end
        start = start + chunk
        chunk = math.min(chunk * 2, 16384)
    end
    steps[#steps + 1] = (desc and 'ZREVRANGE ' or 'ZRANGE ') .. walk.key
        .. ' in chunks (' .. plan.cost .. ' of ' .. all .. ' members)'
    for _, op in ipairs(filters) do steps[#steps + 1] = 'test ' .. op.op .. ' ' .. tostring(op.key) end
    steps[#steps + 1] = sort_step(#matched, plan.sort)
    plan.cost = plan.cost + #matched * #plan.sort.keys
    local failure = sort_candidates(matched, plan.sort, plan.auto)
    if failure then return nil, failure end
    if plan.total then plan.walk_total = all end
    return slice(matched, plan)
end

-- the collection's pks (and its total when asked), or an error reply
local function collect(keys, plan)
    local steps = {}
    plan.pks = keys[1]
    local filters = plan.filters
    local function prepare(op)
        if op.op == 'pks' then op.all = keys[1] end
        if op.op == 'key' then
            local kind, failure = key_type(op.key)
            if failure then return failure end
            op.type = kind
        end
        for _, child in ipairs(op.ops or {}) do
            local failure = prepare(child)
            if failure then return failure end
        end
    end
    for _, op in ipairs(filters) do
        local failure = prepare(op)
        if failure then return nil, nil, nil, nil, failure end
    end

    -- a count of one filter: straight from its index
    if plan.count and #filters == 1 and not plan.source then
        local op = filters[1]
        if op.op == 'set' or (op.op == 'num' and not op.multi)
                or (op.op == 'text' and not op.multi) then
            plan.cost = 1
            return 'index count', {'count ' .. op.op .. ' ' .. op.key}, size(op)
        end
    end

    -- a count of several equal-index filters: SINTERCARD of their sets (Redis 7)
    if plan.count and #filters > 1 and not plan.source and HAS_INTERCARD then
        local sets = {}
        for _, op in ipairs(filters) do
            if op.op ~= 'set' then sets = nil break end
            sets[#sets + 1] = op.key
        end
        if sets then
            plan.cost = #sets
            return 'index count', {'SINTERCARD ' .. table.concat(sets, ' ')},
                redis.call('SINTERCARD', #sets, unpack(sets))
        end
    end

    -- a stored collection, read in its order
    if plan.source then
        if redis.call('EXISTS', plan.source) == 0 then
            return nil, nil, nil, nil, fail('NOSTORED', {key = plan.source})
        end
        if #filters == 0 and not plan.sort and not plan.score then
            local total = (plan.count or plan.total) and redis.call('LLEN', plan.source)
            plan.cost = 1
            if plan.count then return 'stored list', {'LLEN ' .. plan.source}, total end
            local first, last = page_bounds(plan)
            local page = {}
            if last >= first then
                page = redis.call('LRANGE', plan.source, first - 1, last == math.huge and -1 or last - 1)
            end
            plan.cost = 1 + #page
            return 'stored list', {'LRANGE ' .. plan.source}, page, total
        end
    end

    -- sorted by pk in the order of the pks' sorted set
    local by_pk = plan.sort and not plan.sort.by and not plan.sort.keys
        and ((plan.auto and not plan.sort.alpha) or (not plan.auto and plan.sort.alpha and BYTEWISE))

    -- an index walk: the sorted field's range index (or the pks, in pk order) read in
    -- order, a page at a time
    if not plan.count and not plan.source and not plan.score then
        local walk = plan.sort and plan.sort.walk
        if not walk and #filters > 0 and (not plan.sort or by_pk) then
            walk = {key = keys[1], kind = 'pk'}
        end
        if walk then
            local walked, failure
            if plan.sort and plan.sort.keys then
                walked, failure = walk_several(keys, plan, filters, steps, walk)
                if failure then return nil, nil, nil, nil, failure end
            else
                walked = walk_index(keys, plan, filters, steps, walk)
            end
            if walked then return 'index walk', steps, walked, plan.walk_total end
        end
    end

    -- no filter, unsorted or sorted by pk: the pks' sorted set, a page by rank,
    -- O(log n + page)
    if #filters == 0 and not plan.source and not plan.score and (not plan.sort or by_pk) then
        local total = (plan.count or plan.total) and redis.call('ZCARD', keys[1])
        plan.cost = 1
        if plan.count then return 'pk order', {'ZCARD ' .. keys[1]}, total end
        local desc = plan.sort and plan.sort.desc
        local first, last = page_bounds(plan)
        local page = {}
        if last >= first then
            page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', keys[1], first - 1,
                last == math.huge and -1 or last - 1)
        end
        plan.cost = 1 + #page
        return 'pk order', {(desc and 'ZREVRANGE ' or 'ZRANGE ') .. keys[1] .. ' by rank'}, page, total
    end

    -- no filter, or one set filter (an index's pks: no vanished pk to check): the key
    -- itself is counted, sorted and sliced by Redis
    local one_set = #filters == 1 and filters[1].op == 'set'
        and not (plan.check and plan.total and not HAS_INTERCARD)
    local several = plan.sort and plan.sort.keys  -- SORT takes one BY: sorted here
    if not plan.source and not plan.score and not several and (#filters == 0 or one_set) then
        local key = #filters == 0 and keys[1] or filters[1].key
        local total = false
        if plan.count or plan.total then
            if plan.check and key ~= keys[1] then
                -- only pks of existing instances count
                total = redis.call('ZINTERCARD', 2, key, keys[1])
            elseif key == keys[1] then
                total = redis.call('ZCARD', key)
            else
                total = redis.call('SCARD', key)
            end
        end
        plan.cost = 1
        if plan.count then return 'sort key', {'count ' .. key}, total end
        -- SORT reads the whole key
        plan.cost = total or (key == keys[1] and redis.call('ZCARD', key)) or redis.call('SCARD', key)
        local sorted, failure = sort_key(key, plan)
        if failure then return nil, nil, nil, nil, failure end
        if plan.check and key ~= keys[1] and #sorted > 0 then
            -- an index's set holds no vanished pk, unless one vanishes during a page
            sorted = keep(sorted, in_pks(keys[1], sorted))
        end
        return 'sort key', {(SORT_COMMAND or 'SMEMBERS') .. ' ' .. key}, sorted, total
    end

    -- candidates: the pks of the smallest filter (or of the stored list, or all the pks),
    -- tested against the others
    local candidates
    local others = {}
    if plan.source then
        steps[#steps + 1] = 'LRANGE ' .. plan.source
        candidates = distinct(redis.call('LRANGE', plan.source, 0, -1))
        others = filters
    elseif #filters == 0 then
        steps[#steps + 1] = 'ZRANGE ' .. keys[1]
        candidates = redis.call('ZRANGE', keys[1], 0, -1)
    else
        local smallest, smallest_size = nil, nil
        for i, op in ipairs(filters) do
            local count = size(op)
            if smallest == nil or count < smallest_size then
                smallest, smallest_size = i, count
            end
        end
        local driver = filters[smallest]
        if smallest_size == math.huge then
            -- only negations (or conditions made of them): every pk is a candidate
            steps[#steps + 1] = 'ZRANGE ' .. keys[1]
            candidates = redis.call('ZRANGE', keys[1], 0, -1)
            others = filters
            smallest = nil
        end
        if smallest then
            steps[#steps + 1] = 'read ' .. driver.op .. ' ' .. tostring(driver.key)
                .. ' (' .. smallest_size .. ' of ' .. #filters .. ' filters, smallest)'
            candidates = members(driver, steps)
            for i, op in ipairs(filters) do
                if i ~= smallest then others[#others + 1] = op end
            end
        end
    end
    plan.cost = #candidates
    for _, op in ipairs(others) do
        if #candidates == 0 then break end
        plan.cost = plan.cost + #candidates
        candidates = keep(candidates, contains(op, candidates, steps))
    end
    if plan.check and #candidates > 0 then
        steps[#steps + 1] = 'ZMSCORE ' .. keys[1]
        candidates = keep(candidates, in_pks(keys[1], candidates))
    end
    if plan.count then return 'candidates', steps, #candidates end

    if plan.score then
        candidates = by_score(candidates, plan.score, steps)
    elseif not plan.sort then
        pk_order(candidates, plan.auto)
    elseif plan.sort then
        steps[#steps + 1] = sort_step(#candidates, plan.sort)
        plan.cost = plan.cost + #candidates * (plan.sort.keys and #plan.sort.keys or 1)
        local failure = sort_candidates(candidates, plan.sort, plan.auto)
        if failure then return nil, nil, nil, nil, failure end
    end
    return 'candidates', steps, slice(candidates, plan), #candidates
end

-- A model with expiry (M.expiry) whose expired instances are not all cleaned up yet: the
-- pks whose deadline passed must not count. Nothing changes while no deadline has passed
-- (one ZCOUNT). With up to DEAD_LISTED of them, a count is made as usual, then the
-- expired pks the collection holds are subtracted (tested against its filters), and an
-- unfiltered, unsorted page is read by rank, skipping them; otherwise (and with more of
-- them) the filter "deadline not passed" is added, tested on the candidates (ZMSCORE).
local DEAD_LISTED = 2000

local function dead_pks(M)
    if not M.expiry then return nil end
    local now = tostring(now_ms())
    local dead = redis.call('ZCOUNT', M.expiry, '-inf', now)
    if dead == 0 then return nil end
    return now, dead
end

local function drop_expired(M, plan, now)
    plan.filters[#plan.filters + 1] = {op = 'not', ops = {
        {op = 'num', key = M.expiry, min = '-inf', max = now, multi = false}}}
end

-- the expired pks the collection holds: in the pks, and in every filter
local function dead_held(keys, plan, dead)
    local steps = {}
    dead = keep(dead, in_pks(keys[1], dead))
    for _, op in ipairs(plan.filters) do
        if #dead == 0 then break end
        dead = keep(dead, contains(op, dead, steps))
    end
    return dead
end

-- an unfiltered page in the pks' order (by rank), without the expired pks `dead`
local function alive_page(keys, plan, dead)
    local is_dead, ranks = {}, {}
    for _, pk in ipairs(dead) do
        local rank = redis.call('ZRANK', keys[1], pk)
        if rank then
            is_dead[pk] = true
            ranks[#ranks + 1] = rank
        end
    end
    table.sort(ranks)
    local total = (plan.count or plan.total) and redis.call('ZCARD', keys[1]) - #ranks
    if plan.count then return total end
    local first, last = page_bounds(plan)
    local page = {}
    if last < first then return {}, total end
    local raw = first - 1  -- the rank of the first alive pk of the page
    for _, rank in ipairs(ranks) do
        if rank <= raw then raw = raw + 1 else break end
    end
    local want = last - first + 1
    while #page < want do
        local stop = -1
        if want ~= math.huge then stop = raw + (want - #page) + #ranks - 1 end
        local chunk = redis.call('ZRANGE', keys[1], raw, stop)
        for _, pk in ipairs(chunk) do
            if not is_dead[pk] then
                page[#page + 1] = pk
                if #page >= want then break end
            end
        end
        if stop == -1 or #chunk == 0 then break end
        raw = stop + 1
    end
    return page, total
end

local function collection(M, keys, args)
    local plan = cjson.decode(args[1])
    local now, dead = dead_pks(M)
    if now then
        local listed = dead <= DEAD_LISTED and not plan.explain and not plan.source
            and not plan.score
        if listed and #plan.filters == 0 and not plan.sort then
            local expired = redis.call('ZRANGEBYSCORE', M.expiry, '-inf', now)
            local result, total = alive_page(keys, plan, expired)
            if plan.count then return result end
            if plan.values then result = read_values(plan, result) end
            if plan.total then return {total, result} end
            return result
        end
        if listed and plan.count then
            local _, _, count, _, failure = collect(keys, plan)
            if failure then return failure end
            local expired = redis.call('ZRANGEBYSCORE', M.expiry, '-inf', now)
            return count - #dead_held(keys, plan, expired)
        end
        drop_expired(M, plan, now)
    end
    local strategy, steps, result, total, failure = collect(keys, plan)
    if failure then return failure end
    if plan.explain then return {strategy, steps, plan.cost} end
    if plan.count then return result end
    if plan.values and not plan.rows_read then result = read_values(plan, result) end
    if plan.total then return {total, result} end
    return result
end

-- store: run the collection, keep its pks in the list args[2] (expiring after args[3]
-- seconds when given); returns how many
local function store(M, keys, args)
    local plan = cjson.decode(args[1])
    local now = dead_pks(M)
    if now then drop_expired(M, plan, now) end
    local _, _, result, _, failure = collect(keys, plan)
    if failure then return failure end
    local key = args[2]
    redis.call('DEL', key)
    if #result > 0 then call_chunked('RPUSH', key, result) end
    if args[3] then redis.call('EXPIRE', key, args[3]) end
    return #result
end
