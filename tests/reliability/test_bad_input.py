"""Bad input: each case raises a clear exception before anything is written, or
works exactly.

For every case of QUALITY.md's list (unknown field names, unknown filter
suffixes, filters on fields no index handles, sorting by an unknown field,
values a field cannot store, pks that do not exist) the whole key space is
snapshotted (``DUMP`` of every key) before and after the call: the call must
raise the expected exception, whose message names the model, the field and
the suffix involved, and leave the snapshot byte-identical. Pks and values
containing ``:``, ``*``, ``?``, ``[``, ``{``, ``}``, spaces, newlines and
non-ASCII characters must round-trip exactly: read back equal, found by every
filter, sorted, deleted without a trace.

(Over 400 lines because most of it is the table of cases, one entry each.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.exceptions import ResponseError

from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    InvalidValue,
    UniquenessError,
)
from tests.reliability.helpers import diff, snapshot, summary
from tests.reliability.models import Keyed, Sample

pytestmark = pytest.mark.timeout(60)

MISSING = "999"
LIMPYD_ERRORS = (ImplementationError, InvalidValue, UniquenessError, DoesNotExist)


@dataclass
class Case:
    id: str
    call: Callable[[dict[str, Any]], Any]
    #: the exception expected (``None``: the call returns ``returns``)
    raises: type[Exception] | None
    #: words the message must contain (model, field, suffix...)
    words: tuple[str, ...] = ()
    returns: Any = None
    xfail: str | None = None


def base_data() -> dict[str, Any]:
    sample = Sample(
        name="base",
        city="Paris",
        age=30,
        note="n",
        title="t",
        body="b",
        tags=["a"],
        items=["i"],
        ranks={"r": 1},
        attrs={"k": "v"},
    )
    second = Sample(name="second")
    keyed = Keyed(id="k1", value="v", text="t", tags=["a"], rank=1)
    return {"sample": sample, "second": second, "keyed": keyed, "pk": sample.pk.get()}


def s(ctx: dict[str, Any]) -> Sample:
    return ctx["sample"]


def missing() -> Sample:
    return Sample.lazy_connect(MISSING)


def ext(**filters: Any) -> ExtendedCollectionManager:
    return Sample.collection(manager=ExtendedCollectionManager, **filters)


NO_FIELD = (ImplementationError, ("Sample", "nope"))

CASES = [
    # -- unknown field names ---------------------------------------------------------
    Case("create, unknown field", lambda c: Sample(nope="x"), *NO_FIELD),
    Case("create, known + unknown field", lambda c: Sample(name="n1", nope="x"), *NO_FIELD),
    Case("filter, unknown field", lambda c: Sample.collection(nope="x"), *NO_FIELD),
    Case("get, unknown field", lambda c: Sample.get(nope="x"), *NO_FIELD),
    Case("exists, unknown field", lambda c: Sample.exists(nope="x"), *NO_FIELD),
    Case("get_or_connect, unknown field", lambda c: Sample.get_or_connect(nope="x"), *NO_FIELD),
    Case(
        "get_or_connect, known + unknown field",
        lambda c: Sample.get_or_connect(name="new", nope="x"),
        *NO_FIELD,
    ),
    Case("hmset, unknown field", lambda c: s(c).hmset(name="n2", nope="x"), *NO_FIELD),
    Case("hmget, unknown field", lambda c: s(c).hmget("name", "nope"), *NO_FIELD),
    Case("hdel, unknown field", lambda c: s(c).hdel("nope"), *NO_FIELD),
    Case("get_field, unknown field", lambda c: Sample.get_field("nope"), *NO_FIELD),
    Case(
        "bulk_create, one unknown field",
        lambda c: Sample.bulk_create([{"name": "ok-1"}, {"name": "ok-2", "nope": "x"}]),
        *NO_FIELD,
    ),
    Case("values(), unknown field", lambda c: ext().values("name", "nope"), *NO_FIELD),
    # -- unknown filter suffixes -------------------------------------------------------
    Case(
        "filter, unknown suffix",
        lambda c: Sample.collection(name__foo="x"),
        ImplementationError,
        ("Sample.name", "foo"),
    ),
    Case(
        "filter, range suffix on an EqualIndex",
        lambda c: Sample.collection(name__gt="x"),
        ImplementationError,
        ("Sample.name", "gt"),
    ),
    Case(
        "filter, startswith on a NumberRangeIndex",
        lambda c: Sample.collection(age__startswith="1"),
        ImplementationError,
        ("Sample.age", "startswith"),
    ),
    Case(
        "filter, two suffixes",
        lambda c: Sample.collection(city__eq__in=["x"]),
        ImplementationError,
        ("Sample", "city__eq__in"),
    ),
    Case(
        "filter, range suffix on the pk",
        lambda c: Sample.collection(pk__gt="1"),
        ImplementationError,
        ("Sample.pk", "gt"),
    ),
    Case(
        "filter, unknown suffix on a multi-value field",
        lambda c: Sample.collection(tags__lt="x"),
        ImplementationError,
        ("Sample.tags", "lt"),
    ),
    # -- filters on fields no index handles -------------------------------------------
    Case(
        "filter, InstanceHashField not indexed",
        lambda c: Sample.collection(note="n"),
        ImplementationError,
        ("Sample", "note", "not indexed"),
    ),
    Case(
        "filter, StringField not indexed",
        lambda c: Sample.collection(body__in=["b"]),
        ImplementationError,
        ("Sample", "body", "not indexed"),
    ),
    Case(
        "get, field not indexed",
        lambda c: Sample.get(note="n"),
        ImplementationError,
        ("Sample", "note", "not indexed"),
    ),
    # -- sorting by an unknown field ---------------------------------------------------
    Case(
        "sort by an unknown field",
        lambda c: Sample.collection().sort(by="nope"),
        *NO_FIELD,
    ),
    Case(
        "sort by a multi-value field",
        lambda c: Sample.collection(name="base").sort(by="tags"),
        ImplementationError,
        ("Sample", "tags", "several values"),
    ),
    # -- values the field cannot store ----------------------------------------------
    Case("create, None", lambda c: Sample(name=None), InvalidValue, ("Sample.name", "None")),
    Case(
        "create, None in a second field",
        lambda c: Sample(name="n3", title=None),
        InvalidValue,
        ("Sample.title", "None"),
    ),
    Case("create, bool", lambda c: Sample(name=True), InvalidValue, ("Sample.name", "True")),
    Case("create, list", lambda c: Sample(name=["a"]), InvalidValue, ("Sample.name",)),
    Case("create, dict", lambda c: Sample(title={"a": 1}), InvalidValue, ("Sample.title",)),
    Case("create, object", lambda c: Sample(body=object()), InvalidValue, ("Sample.body",)),
    Case(
        "create, bytes not UTF-8",
        lambda c: Sample(name=b"\xff\xfe"),
        InvalidValue,
        ("Sample.name", "UTF-8"),
    ),
    Case(
        "create, lone surrogate",
        lambda c: Sample(name="a\ud800"),
        InvalidValue,
        ("Sample.name",),
    ),
    Case(
        "create, NUL in a text-range-indexed value",
        lambda c: Sample(name="n4", city="a\x00b"),
        InvalidValue,
        ("Sample.city", "NUL"),
    ),
    Case(
        "create, set of a string",
        lambda c: Sample(tags="abc"),
        InvalidValue,
        ("Sample.tags",),
    ),
    Case(
        "create, nested list in a set",
        lambda c: Sample(tags=[["a"]]),
        InvalidValue,
        ("Sample.tags",),
    ),
    Case(
        "create, None in a set", lambda c: Sample(tags=["a", None]), InvalidValue, ("Sample.tags",)
    ),
    Case(
        "create, dict in a list",
        lambda c: Sample(items=[{"a": 1}]),
        InvalidValue,
        ("Sample.items",),
    ),
    Case(
        "create, sorted set from a list",
        lambda c: Sample(ranks=["a"]),
        InvalidValue,
        ("Sample.ranks",),
    ),
    Case(
        "create, None score",
        lambda c: Sample(ranks={"a": None}),
        InvalidValue,
        ("Sample.ranks",),
    ),
    Case(
        "create, bool score",
        lambda c: Sample(ranks={"a": True}),
        InvalidValue,
        ("Sample.ranks",),
    ),
    Case(
        "create, NaN score",
        lambda c: Sample(ranks={"a": float("nan")}),
        InvalidValue,
        ("Sample.ranks", "NaN"),
    ),
    Case(
        "create, tuple member of a sorted set",
        lambda c: Sample(ranks={("a",): 1}),
        InvalidValue,
        ("Sample.ranks",),
    ),
    Case(
        "create, nested dict in a hash",
        lambda c: Sample(attrs={"k": {"x": 1}}),
        InvalidValue,
        ("Sample.attrs",),
    ),
    Case(
        "create, None in a hash",
        lambda c: Sample(attrs={"k": None}),
        InvalidValue,
        ("Sample.attrs",),
    ),
    Case(
        "create, hash from a list", lambda c: Sample(attrs=["k"]), InvalidValue, ("Sample.attrs",)
    ),
    Case(
        "bulk_create, one bad value",
        lambda c: Sample.bulk_create([{"name": "ok-1"}, {"name": None}]),
        InvalidValue,
        ("Sample.name", "None"),
    ),
    Case("hset None", lambda c: s(c).name.hset(None), InvalidValue, ("Sample.name", "None")),
    Case("hset bool", lambda c: s(c).name.hset(False), InvalidValue, ("Sample.name", "False")),
    Case("set list", lambda c: s(c).title.set(["x"]), InvalidValue, ("Sample.title",)),
    Case("set bool", lambda c: s(c).body.set(True), InvalidValue, ("Sample.body",)),
    Case("sadd None", lambda c: s(c).tags.sadd(None), InvalidValue, ("Sample.tags",)),
    Case("sadd nested", lambda c: s(c).tags.sadd("ok", ["a"]), InvalidValue, ("Sample.tags",)),
    Case("rpush dict", lambda c: s(c).items.rpush({"a": 1}), InvalidValue, ("Sample.items",)),
    Case("zadd list score", lambda c: s(c).ranks.zadd({"a": [1]}), InvalidValue, ("Sample.ranks",)),
    Case("hash hset None", lambda c: s(c).attrs.hset("k", None), InvalidValue, ("Sample.attrs",)),
    Case(
        "hash hmset nested",
        lambda c: s(c).attrs.hmset({"k": ["x"]}),
        InvalidValue,
        ("Sample.attrs",),
    ),
    Case("hmset None", lambda c: s(c).hmset(name="x", note=None), InvalidValue, ("Sample.note",)),
    Case("hincrby bool", lambda c: s(c).age.hincrby(True), InvalidValue, ("Sample.age",)),
    Case(
        "hincrby by a text",
        lambda c: s(c).age.hincrby("x"),
        ResponseError,
        ("Sample.age.hincrby", "not an integer"),
    ),
    Case(
        "hset NUL in a text-range-indexed value",
        lambda c: s(c).city.hset("x\x00"),
        InvalidValue,
        ("Sample.city", "NUL"),
    ),
    Case(
        "hincrby of a text value",
        lambda c: s(c).city.hincrby(1),
        ResponseError,
        ("Sample.city.hincrby", "not an integer"),
    ),
    Case(
        "create, unique value taken",
        lambda c: Sample(name="base", title="other"),
        UniquenessError,
        ("Sample.name", "base"),
    ),
    Case(
        "hset, unique value taken",
        lambda c: c["second"].name.hset("base"),
        UniquenessError,
        ("Sample.name", "base"),
    ),
    Case(
        "filter value None",
        lambda c: Sample.collection(name=None),
        InvalidValue,
        ("Sample.name", "None"),
    ),
    Case(
        "filter value list",
        lambda c: Sample.collection(name=["a"]),
        InvalidValue,
        ("Sample.name",),
    ),
    Case(
        "filter __in a string",
        lambda c: Sample.collection(name__in="base"),
        InvalidValue,
        ("Sample.name", "in"),
    ),
    Case(
        "filter number range by text",
        lambda c: Sample.collection(age__gt="abc"),
        InvalidValue,
        ("Sample.age", "abc"),
    ),
    Case(
        "pk None",
        lambda c: Keyed(id=None, value="x"),
        InvalidValue,
        ("Keyed.id", "None"),
    ),
    Case("pk empty", lambda c: Keyed(id="", value="x"), InvalidValue, ("Keyed.id", "empty")),
    Case("pk bool", lambda c: Keyed(id=True, value="x"), InvalidValue, ("Keyed.id",)),
    Case("pk list", lambda c: Keyed(id=["a"], value="x"), InvalidValue, ("Keyed.id",)),
    Case("pk missing", lambda c: Keyed(value="x"), InvalidValue, ("Keyed.id",)),
    Case(
        "AutoPK assigned",
        lambda c: Sample(pk=5, name="n5"),
        ImplementationError,
        ("Sample.pk", "AutoPKField"),
    ),
    Case(
        "pk changed",
        lambda c: c["keyed"].id.set("other"),
        ImplementationError,
        ("Keyed.id",),
    ),
    Case(
        "pk taken",
        lambda c: Keyed(id="k1", value="w"),
        UniquenessError,
        ("Keyed", "k1"),
    ),
    # -- pks that do not exist -------------------------------------------------------
    Case("connect", lambda c: Sample(MISSING), Sample.DoesNotExist, ("Sample", MISSING)),
    Case("get by pk", lambda c: Sample.get(MISSING), Sample.DoesNotExist, ("Sample", MISSING)),
    Case("get pk=", lambda c: Sample.get(pk=MISSING), Sample.DoesNotExist, ("Sample", MISSING)),
    Case(
        "get by pk and filter",
        lambda c: Sample.get(pk=MISSING, name="base"),
        Sample.DoesNotExist,
        ("Sample",),
    ),
    Case("lazy read", lambda c: missing().name.hget(), Sample.DoesNotExist, ("Sample", MISSING)),
    Case("lazy hmget", lambda c: missing().hmget("name"), Sample.DoesNotExist, ("Sample", MISSING)),
    Case(
        "lazy set read",
        lambda c: missing().tags.smembers(),
        Sample.DoesNotExist,
        ("Sample", MISSING),
    ),
    Case("lazy hset", lambda c: missing().name.hset("x"), Sample.DoesNotExist, ("Sample", MISSING)),
    Case("lazy set", lambda c: missing().title.set("x"), Sample.DoesNotExist, ("Sample", MISSING)),
    Case("lazy sadd", lambda c: missing().tags.sadd("x"), Sample.DoesNotExist, ("Sample", MISSING)),
    Case(
        "lazy zadd",
        lambda c: missing().ranks.zadd({"x": 1}),
        Sample.DoesNotExist,
        ("Sample", MISSING),
    ),
    Case(
        "lazy hmset",
        lambda c: missing().hmset(name="x", note="y"),
        Sample.DoesNotExist,
        ("Sample", MISSING),
    ),
    Case("lazy hdel", lambda c: missing().hdel("note"), Sample.DoesNotExist, ("Sample", MISSING)),
    Case(
        "lazy field delete",
        lambda c: missing().title.delete(),
        Sample.DoesNotExist,
        ("Sample", MISSING),
    ),
    Case(
        "lazy incr",
        lambda c: missing().age.hincrby(1),
        Sample.DoesNotExist,
        ("Sample", MISSING),
    ),
    Case("lazy delete", lambda c: missing().delete(), None, returns=False),
    Case("exists", lambda c: Sample.exists(pk=MISSING), None, returns=False),
    Case("from_pks", lambda c: list(Sample.from_pks([MISSING])), None, returns=[]),
    Case("collection pk=", lambda c: list(Sample.collection(pk=MISSING)), None, returns=[]),
    Case(
        "collection pk__in",
        lambda c: list(Sample.collection(pk__in=[MISSING, c["pk"]])),
        None,
        returns=["1"],
    ),
    Case(
        "instances pk__in",
        lambda c: [i.pk.get() for i in Sample.instances(pk__in=[MISSING, c["pk"]])],
        None,
        returns=["1"],
    ),
]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
        for c in CASES
    ],
    ids=[c.id for c in CASES],
)
def test_bad_input_raises_before_any_write(case: Case, session_kwargs, raw):
    ctx = base_data()
    before = snapshot(raw)
    if case.raises is None:
        assert case.call(ctx) == case.returns
        assert snapshot(raw) == before
        return
    with pytest.raises(case.raises) as info:
        case.call(ctx)
    after = snapshot(raw)
    assert after == before, f"written before raising: {diff(before, after)}"
    message = str(info.value)
    missing_words = [word for word in case.words if word not in message]
    assert not missing_words, f"{type(info.value).__name__}: {message!r} lacks {missing_words}"
    assert isinstance(info.value, LIMPYD_ERRORS) or case.raises is ResponseError


def test_all_bad_input_in_a_row(session_kwargs, raw):
    """Every case again, one after the other on the same data: still nothing written
    (and one line for the report)."""
    started = time.perf_counter()
    ctx = base_data()
    before = snapshot(raw)
    kinds: dict[str, int] = {}
    for case in CASES:
        kind = "returns" if case.raises is None else case.raises.__name__
        kinds[kind] = kinds.get(kind, 0) + 1
        if case.raises is None:
            assert case.call(ctx) == case.returns, case.id
        else:
            with pytest.raises(case.raises):
                case.call(ctx)
    assert snapshot(raw) == before
    summary("bad input", started, cases=len(CASES), keys_unchanged=len(before), **kinds)


# -- pks and values with special characters -----------------------------------------------

SPECIAL = [
    "a:b",
    ":",
    "::x::",
    "*",
    "a*b",
    "?",
    "a?c",
    "[",
    "]",
    "[ab]",
    "[^a]",
    "{",
    "}",
    "{x}",
    "x}:y",
    "{reliability:Keyed}:pks",
    "a b",
    " ",
    "line\nbreak",
    "\r\n",
    "tab\there",
    "é",
    "日本語",
    "🎉 emoji",
    "\\",
    "\\*",
    "a->b",
    "%3A",
    "eq:x",
    "-1",
    "1e3",
]


def expected_keyed_keys() -> set[str]:
    """Every key the Keyed instances of SPECIAL must have, and no other."""
    keys = Keyed._meta.keys
    field = Keyed.get_field
    expected = {keys.pks}
    for value in SPECIAL:
        expected |= {
            keys.instance_hash(value),
            keys.field("text", value),
            keys.field("tags", value),
            field("value").indexes[0].get_storage_key(value),
            field("value").indexes[1].get_storage_key(value),
            field("text").indexes[0].get_storage_key(value),
            field("tags").indexes[0].get_storage_key(value),
            field("tags").indexes[0].get_storage_key(f"{value}#2"),
        }
    return expected


def test_special_pks_and_values_round_trip(session_kwargs, raw):
    started = time.perf_counter()
    for rank, value in enumerate(SPECIAL):
        Keyed(id=value, value=value, text=value, tags=[value, f"{value}#2"], rank=rank)
    checks = 0
    for value in SPECIAL:
        keyed = Keyed(value)
        assert keyed.pk.get() == value
        assert keyed.hmget("value", "rank") == [value, str(SPECIAL.index(value))]
        assert keyed.text.get() == value
        assert keyed.tags.smembers() == {value, f"{value}#2"}
        for filters in (
            {"pk": value},
            {"pk__in": [value, "absent"]},
            {"value": value},
            {"value__in": [value]},
            {"value__gte": value, "value__lte": value},
            {"text": value},
            {"tags": value},
            {"tags": f"{value}#2"},
            {"value": value, "text": value, "tags": value},
        ):
            assert list(Keyed.collection(**filters)) == [value], filters
            checks += 1
        assert value in Keyed.collection(value__startswith=value)
        assert Keyed.get(text=value).pk.get() == value
        assert Keyed.exists(pk=value)
        assert [k.pk.get() for k in Keyed.from_pks([value])] == [value]
        with pytest.raises(UniquenessError):
            Keyed(id=value, value="again")
        checks += 6
    # SORT BY reads each pk's hash: the pk is put into a pattern, whatever it holds
    assert list(Keyed.collection().sort(by="rank")) == SPECIAL
    assert list(Keyed.collection().sort(by="rank", desc=True)[:3]) == SPECIAL[::-1][:3]
    rows = Keyed.collection(manager=ExtendedCollectionManager).sort(by="rank")
    assert [list(row) for row in rows.values_list("pk", "value")] == [[v, v] for v in SPECIAL]
    assert sorted(Keyed.collection().sort(by="value", alpha=True)) == sorted(SPECIAL)
    # no two things share a key, and nothing else was written
    assert set(Keyed.scan_model_keys()) == expected_keyed_keys()
    assert consistency_check(Keyed) == []

    for rank, value in enumerate(["", *SPECIAL]):
        sample = Sample(
            name=value,
            city=value,
            age=rank,
            note=value,
            title=value,
            body=value,
            tags=[value],
            items=[value, value],
            ranks={value: rank},
            attrs={value: value},
        )
        pk = sample.pk.get()
        assert sample.hmget("name", "city", "note") == [value] * 3
        assert (sample.title.get(), sample.body.get()) == (value, value)
        assert sample.tags.smembers() == {value}
        assert sample.items.lrange(0, -1) == [value, value]
        assert sample.ranks.zrange(0, -1, withscores=True) == [(value, float(rank))]
        assert sample.attrs.hgetall() == {value: value}
        for filters in (
            {"name": value},
            {"city": value},
            {"city__in": [value]},
            {"title": value},
            {"tags": value},
            {"items": value},
            {"ranks": value},
            {"attrs": {value: value}},
            {"name": value, "age": rank},
        ):
            assert list(Sample.collection(**filters)) == [pk], filters
            checks += 1
        assert pk in Sample.collection(city__startswith=value)
        checks += 1
    assert consistency_check(Sample) == []

    for value in SPECIAL:
        assert Keyed(value).delete() is True
        assert not Keyed.exists(pk=value)
    assert list(Keyed.scan_model_keys()) == []
    for sample in list(Sample.instances()):
        assert sample.delete()
    assert set(Sample.scan_model_keys()) == {Sample._meta.keys.max_pk}
    summary(
        "special pks and values",
        started,
        strings=len(SPECIAL),
        keyed_keys=len(expected_keyed_keys()),
        filter_checks=checks,
    )
