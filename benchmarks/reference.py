"""The hand-written redis-py reference: what an expert would write for ``Person``.

Same kind of layout as django_limpyd (a hash per instance, a set per indexed
value, sorted sets for the range indexes, a set of pks, a counter), with the
short key names one would choose by hand::

    person:pks             set of pks
    person:next            AutoPK counter (INCR)
    person:<pk>            hash: email, city, age, name, phone, note
    person:email:<email>   set of the pk holding that e-mail (unique)
    person:city:<city>     set of the pks in that city
    person:city~           sorted set of "city\\0pk" at score 0 (startswith)
    person:age             sorted set of pks scored by age

Writes are minimal Lua scripts (one EVALSHA each, same atomicity, existence and
uniqueness checks as django_limpyd's); reads are the single ideal command. A
read of an instance that checks it exists (W4, W4p) is one minimal script too:
``SISMEMBER`` of the pk in ``person:pks``, an error if it is not there, else
``HGETALL`` (or ``HMGET``), the check and the read in one atomic round trip.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

__all__ = ["PAGE_FIELDS", "Reference", "reference_problems"]

P = "person"
PKS = f"{P}:pks"
NEXT = f"{P}:next"
CITY_TEXT = f"{P}:city~"
AGE = f"{P}:age"
#: the fields of a W3 page, in order (``pk`` first)
PAGE_FIELDS = ("pk", "name", "email", "age")

CREATE = """
local email, city, age = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', 'person:email:' .. email) == 1 then
    return redis.error_reply('UNIQUE email ' .. email)
end
local pk = tostring(redis.call('INCR', KEYS[2]))
redis.call('HSET', 'person:' .. pk, 'email', email, 'city', city, 'age', age,
           'name', ARGV[4], 'phone', ARGV[5], 'note', ARGV[6])
redis.call('SADD', 'person:email:' .. email, pk)
redis.call('SADD', 'person:city:' .. city, pk)
redis.call('ZADD', 'person:city~', 0, city .. '\\0' .. pk)
redis.call('ZADD', 'person:age', tonumber(age) or 0, pk)
redis.call('SADD', KEYS[1], pk)
return pk
"""

UPDATE = """
local pk, field, value = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SISMEMBER', KEYS[1], pk) == 0 then return redis.error_reply('MISSING ' .. pk) end
local key = 'person:' .. pk
local old = redis.call('HGET', key, field)
if old == value then return 0 end
if field == 'email' then
    if redis.call('EXISTS', 'person:email:' .. value) == 1 then
        return redis.error_reply('UNIQUE email ' .. value)
    end
    if old then redis.call('SREM', 'person:email:' .. old, pk) end
    redis.call('SADD', 'person:email:' .. value, pk)
elseif field == 'city' then
    if old then
        redis.call('SREM', 'person:city:' .. old, pk)
        redis.call('ZREM', 'person:city~', old .. '\\0' .. pk)
    end
    redis.call('SADD', 'person:city:' .. value, pk)
    redis.call('ZADD', 'person:city~', 0, value .. '\\0' .. pk)
elseif field == 'age' then
    redis.call('ZADD', 'person:age', tonumber(value) or 0, pk)
end
return redis.call('HSET', key, field, value)
"""

DELETE = """
local pk = ARGV[1]
if redis.call('SREM', KEYS[1], pk) == 0 then return 0 end
local key = 'person:' .. pk
local values = redis.call('HMGET', key, 'email', 'city')
if values[1] then redis.call('SREM', 'person:email:' .. values[1], pk) end
if values[2] then
    redis.call('SREM', 'person:city:' .. values[2], pk)
    redis.call('ZREM', 'person:city~', values[2] .. '\\0' .. pk)
end
redis.call('ZREM', 'person:age', pk)
redis.call('DEL', key)
return 1
"""

#: an existence-checked read (W4, W4p): KEYS pks set, instance hash; ARGV pk
READ_ALL = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
    return redis.error_reply('MISSING ' .. ARGV[1])
end
return redis.call('HGETALL', KEYS[2])
"""

#: the same for some fields: ARGV pk, field names
READ_FIELDS = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
    return redis.error_reply('MISSING ' .. ARGV[1])
end
return redis.call('HMGET', KEYS[2], unpack(ARGV, 2))
"""

SCRIPTS = {
    "create": CREATE,
    "update": UPDATE,
    "delete": DELETE,
    "read_all": READ_ALL,
    "read_fields": READ_FIELDS,
}
SHAS = {name: hashlib.sha1(source.encode()).hexdigest() for name, source in SCRIPTS.items()}


def _create_args(values: dict[str, str]) -> tuple[str, ...]:
    return (
        values["email"],
        values["city"],
        values["age"],
        values["name"],
        values["phone"],
        values["note"],
    )


class Reference:
    """The reference operations, on a redis-py client (``decode_responses=True``)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def load_scripts(self) -> None:
        """SCRIPT LOAD every script (before any timing)."""
        for name, source in SCRIPTS.items():
            sha = self.client.script_load(source)
            if sha != SHAS[name]:  # pragma: no cover - a server bug
                raise AssertionError(f"SCRIPT LOAD {name}: {sha} != {SHAS[name]}")

    # -- writes ---------------------------------------------------------------------

    def create(self, values: dict[str, str]) -> str:
        """One EVALSHA: uniqueness check, pk, hash, index entries."""
        return self.client.evalsha(SHAS["create"], 2, PKS, NEXT, *_create_args(values))

    def create_many(self, items: list[dict[str, str]]) -> list[Any]:
        """The creates of ``items`` pipelined (one round trip, no MULTI)."""
        pipe = self.client.pipeline(transaction=False)
        sha = SHAS["create"]
        for values in items:
            pipe.evalsha(sha, 2, PKS, NEXT, *_create_args(values))
        return pipe.execute(raise_on_error=False)

    def update(self, pk: str, field: str, value: str) -> Any:
        """One EVALSHA: existence check, value and index entries (uniqueness for email)."""
        return self.client.evalsha(SHAS["update"], 1, PKS, pk, field, value)

    def delete(self, pk: str) -> Any:
        """One EVALSHA: the hash, every index entry, the pk."""
        return self.client.evalsha(SHAS["delete"], 1, PKS, pk)

    # -- reads (W2) -----------------------------------------------------------------

    def city_eq(self, city: str) -> list[str]:
        return list(self.client.smembers(f"{P}:city:{city}"))

    def city_in(self, cities: list[str]) -> list[str]:
        return list(self.client.sunion([f"{P}:city:{city}" for city in cities]))

    def age_range(self, low: int, high: int) -> list[str]:
        """``low <= age < high``."""
        return self.client.zrangebyscore(AGE, low, f"({high}")

    def city_startswith(self, prefix: str) -> list[str]:
        start, stop = b"[" + prefix.encode(), b"(" + prefix.encode() + b"\xff"
        members = self.client.zrangebylex(CITY_TEXT, start, stop)
        return [member.rpartition("\0")[2] for member in members]

    def len_city_eq(self, city: str) -> int:
        return self.client.scard(f"{P}:city:{city}")

    def len_city_in(self, cities: list[str]) -> int:
        # the sets are disjoint (one city per person): the sum of their sizes, in one trip
        pipe = self.client.pipeline(transaction=False)
        for city in cities:
            pipe.scard(f"{P}:city:{city}")
        return sum(pipe.execute())

    def len_age_range(self, low: int, high: int) -> int:
        return self.client.zcount(AGE, low, f"({high}")

    def len_city_startswith(self, prefix: str) -> int:
        start, stop = b"[" + prefix.encode(), b"(" + prefix.encode() + b"\xff"
        return self.client.zlexcount(CITY_TEXT, start, stop)

    # -- pages (W3) and instances (W4) ----------------------------------------------

    def page(self, city: str, offset: int, count: int) -> list[dict[str, str]]:
        """Pks of one city sorted by name, with their fields: one SORT ... GET."""
        gets = ["#"] + [f"{P}:*->{name}" for name in PAGE_FIELDS[1:]]
        flat = self.client.sort(
            f"{P}:city:{city}", start=offset, num=count, by=f"{P}:*->name", get=gets, alpha=True
        )
        width = len(PAGE_FIELDS)
        return [
            dict(zip(PAGE_FIELDS, flat[i : i + width], strict=True))
            for i in range(0, len(flat), width)
        ]

    def hgetall(self, pk: str) -> dict[str, str]:
        """The instance's hash, unchecked (one HGETALL)."""
        return self.client.hgetall(f"{P}:{pk}")

    def checked_hgetall(self, pk: str) -> dict[str, str]:
        """The instance's hash if ``pk`` exists, else ``ResponseError`` (one EVALSHA)."""
        return _pairs(self.client.evalsha(SHAS["read_all"], 2, PKS, f"{P}:{pk}", pk))

    def checked_hmget(self, pk: str, names: list[str]) -> list[Any]:
        """Some values of the instance's hash if ``pk`` exists (one EVALSHA)."""
        return self.client.evalsha(SHAS["read_fields"], 2, PKS, f"{P}:{pk}", pk, *names)

    def checked_hgetall_many(self, pks: list[str]) -> list[dict[str, str]]:
        """:meth:`checked_hgetall` of every pk, pipelined (one round trip, no MULTI)."""
        pipe = self.client.pipeline(transaction=False)
        sha = SHAS["read_all"]
        for pk in pks:
            pipe.evalsha(sha, 2, PKS, f"{P}:{pk}", pk)
        return [_pairs(flat) for flat in pipe.execute()]


def _pairs(flat: list[str]) -> dict[str, str]:
    """``{name: value}`` of a flat ``[name, value, ...]`` reply (as redis-py's HGETALL)."""
    iterator = iter(flat)
    return dict(zip(iterator, iterator, strict=True))


def reference_problems(client: Any, chunk: int = 1000) -> list[str]:
    """Every difference between the reference data and its index entries (a hand check)."""
    problems: list[str] = []
    pks = sorted(client.smembers(PKS), key=int)
    email: dict[str, set[str]] = defaultdict(set)
    city: dict[str, set[str]] = defaultdict(set)
    city_text: set[str] = set()
    ages: dict[str, float] = {}
    for start in range(0, len(pks), chunk):
        part = pks[start : start + chunk]
        pipe = client.pipeline(transaction=False)
        for pk in part:
            pipe.hgetall(f"{P}:{pk}")
        for pk, values in zip(part, pipe.execute(), strict=True):
            if not values:
                problems.append(f"pk {pk} has no hash")
                continue
            email[values["email"]].add(pk)
            city[values["city"]].add(pk)
            city_text.add(f"{values['city']}\0{pk}")
            ages[pk] = float(values["age"])
    for field, expected in (("email", email), ("city", city)):
        actual = {}
        for key in client.scan_iter(match=f"{P}:{field}:*", count=chunk):
            actual[key.split(":", 2)[2]] = set(client.smembers(key))
        for value in sorted(set(expected) | set(actual)):
            if expected.get(value, set()) != actual.get(value, set()):
                problems.append(
                    f"{field} {value!r}: index {sorted(actual.get(value, ()))}, "
                    f"data {sorted(expected.get(value, ()))}"
                )
        if field == "email":
            problems += [
                f"email {v!r} held by {sorted(p)}" for v, p in expected.items() if len(p) > 1
            ]
    actual_text = set(client.zrange(CITY_TEXT, 0, -1))
    problems += [f"city~ missing {m!r}" for m in sorted(city_text - actual_text)]
    problems += [f"city~ extra {m!r}" for m in sorted(actual_text - city_text)]
    actual_ages = dict(client.zrange(AGE, 0, -1, withscores=True))
    if actual_ages != ages:
        wrong = sorted(set(actual_ages.items()) ^ set(ages.items()))[:10]
        problems.append(f"age index differs from data: {wrong}")
    hashes = sum(1 for key in client.scan_iter(match=f"{P}:[0-9]*", count=chunk))
    if hashes != len(pks):
        problems.append(f"{hashes} instance hashes for {len(pks)} pks")
    return problems
