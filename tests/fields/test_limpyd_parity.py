"""Issue 19, bullet "Fields": what limpyd 2.1.2 code does with fields runs unchanged.

``field.exists()``, ``proxy_get()`` / ``proxy_set()``, the ``available_*`` command
lists, a subclass replacing its parent's pk with its own PKField, and ``zadd``'s forms.
"""

from __future__ import annotations

import pytest

from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields import (
    AutoPKField,
    HashField,
    InstanceHashField,
    ListField,
    PKField,
    RedisField,
    SetField,
    SortedSetField,
    StringField,
)
from django_limpyd.model import RedisModel

NAMESPACE = "t_parity"

FIELD_CLASSES = [
    StringField, InstanceHashField, HashField, SetField, ListField, SortedSetField, PKField,
    AutoPKField,
]  # fmt: skip


@pytest.fixture
def Everything(database):
    db = database

    class Everything(RedisModel):
        database = db
        namespace = NAMESPACE
        string = StringField()
        hfield = InstanceHashField()
        other_hfield = InstanceHashField()
        hash = HashField()
        set = SetField()
        list = ListField()
        zset = SortedSetField()
        indexed = StringField(indexable=True)

    return Everything


# -- field.exists() -------------------------------------------------------------------


def test_parity_field_exists(Everything, database):
    instance = Everything(other_hfield="x")
    for name in ("string", "hfield", "hash", "set", "list", "zset"):
        assert getattr(instance, name).exists() is False, name
    instance.string.set("a")
    instance.hfield.hset("b")
    instance.hash.hset("k", "v")
    instance.set.sadd("m")
    instance.list.rpush("m")
    instance.zset.zadd({"m": 1})
    for name in ("string", "hfield", "hash", "set", "list", "zset"):
        assert getattr(instance, name).exists() is True, name
    assert instance.hfield.hexists() is True  # InstanceHashField: exists is hexists
    instance.string.delete()
    instance.hfield.delete()
    assert instance.string.exists() is False
    assert instance.hfield.exists() is False
    assert instance.other_hfield.exists() is True  # the hash itself still exists
    assert Everything(instance.pk.get()).set.exists() is True  # read from Redis


def test_parity_field_exists_pk(Everything, database):
    instance = Everything(string="a")
    pk = instance.pk.get()
    assert instance.pk.exists() is True
    assert Everything.get_field("pk").exists(pk) is True
    assert instance.pk.exists("nope") is False
    instance.delete()
    assert Everything.get_field("pk").exists(pk) is False


def test_parity_field_exists_unsaved_or_unbound(database):
    db = database

    class Keyed(RedisModel):
        database = db
        namespace = NAMESPACE
        ident = PKField()
        name = StringField()

    unsaved = Keyed()
    assert unsaved.name.exists() is False
    assert unsaved.ident.exists() is False
    with pytest.raises(ImplementationError, match="not bound"):
        Keyed.get_field("name").exists()


# -- proxy_get / proxy_set ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_class", "getter", "setter"),
    [
        (StringField, "get", "set"),
        (InstanceHashField, "hget", "hset"),
        (HashField, "hgetall", "hmset"),
        (SetField, "smembers", "sadd"),
        (ListField, "lmembers", "rpush"),
        (SortedSetField, "zmembers", "zadd"),
        (PKField, "get", "set"),
        (AutoPKField, "get", "set"),
    ],
)
def test_parity_field_proxy_getter_and_setter_names(field_class, getter, setter):
    assert field_class.proxy_getter == getter
    assert field_class.proxy_setter == setter
    assert callable(getattr(field_class, getter))
    assert callable(getattr(field_class, setter))


def test_parity_field_proxy_get_and_proxy_set(Everything, database):
    instance = Everything(other_hfield="x")
    assert instance.string.proxy_set("a") is True
    assert instance.string.proxy_get() == "a"
    assert instance.hfield.proxy_set("b") == 1
    assert instance.hfield.proxy_get() == "b"
    assert instance.hash.proxy_set({"k": "v", "ch": "flag-like key"}) is True
    assert instance.hash.proxy_get() == {"k": "v", "ch": "flag-like key"}
    assert instance.set.proxy_set({"a", "b"}) == 2  # a set: one argument per member
    assert instance.set.proxy_get() == {"a", "b"}
    assert instance.list.proxy_set(["a", "b", "a"]) == 3
    assert instance.list.proxy_set("c") == 4  # one value: one argument
    assert instance.list.proxy_get() == ["a", "b", "a", "c"] == instance.list.lmembers()
    assert instance.zset.proxy_set({"b": 2, "a": 1, "ch": 3}) == 3  # a dict: one mapping
    assert instance.zset.proxy_get() == ["a", "b", "ch"] == instance.zset.zmembers()
    assert instance.pk.proxy_get() == instance.pk.get()


def test_parity_field_proxy_without_getter(database):
    class Bare(RedisField):
        pass

    with pytest.raises(ImplementationError, match="Bare has no proxy_getter"):
        Bare().proxy_get()
    with pytest.raises(ImplementationError, match="Bare has no proxy_setter"):
        Bare().proxy_set("x")


# -- available_getters / available_modifiers / available_commands -----------------------

EXPIRY = {"expire", "pexpire", "expireat", "pexpireat", "persist", "ttl", "pttl"}


@pytest.mark.parametrize(
    ("field_class", "getters", "modifiers"),
    [
        (
            StringField,
            {"get", "getbit", "getrange", "strlen", "bitcount", "bitpos"},
            {"delete", "getset", "set", "append", "decr", "decrby", "incr", "incrby",
             "incrbyfloat", "setbit", "setnx", "setrange", "setex", "psetex"},
        ),
        (
            HashField,
            {"hget", "hgetall", "hmget", "hkeys", "hvals", "hlen", "hscan", "hstrlen", "hexists"},
            {"delete", "hdel", "hmset", "hsetnx", "hset", "hincrby", "hincrbyfloat"},
        ),
        (
            SetField,
            {"scard", "sismember", "smembers", "srandmember", "sscan", "sort"},
            {"delete", "sadd", "srem", "spop"},
        ),
        (
            ListField,
            {"lindex", "llen", "lrange", "lrank", "lcontains", "lcount", "lmembers", "sort"},
            {"delete", "linsert", "lpop", "lpush", "lpushx", "lrem", "rpop", "rpush", "rpushx",
             "lset", "ltrim"},
        ),
        (
            SortedSetField,
            {"zcard", "zcount", "zrange", "zrangebyscore", "zrank", "zrevrange",
             "zrevrangebyscore", "zrevrank", "zscore", "zscan", "sort", "zlexcount",
             "zrangebylex", "zrevrangebylex", "zmembers"},
            {"delete", "zadd", "zincrby", "zrem", "zremrangebyrank", "zremrangebyscore",
             "zpopmin", "zpopmax", "zremrangebylex"},
        ),
    ],
)  # fmt: skip
def test_parity_field_available_commands(field_class, getters, modifiers):
    # limpyd's lists (its 'scan_iter' names are our generator 'scan' commands), with the
    # expiry commands split between getters (ttl, pttl) and modifiers
    assert field_class.available_getters == getters | {"ttl", "pttl"}
    assert field_class.available_modifiers == modifiers | (EXPIRY - {"ttl", "pttl"})
    assert field_class.available_commands == (
        field_class.available_getters | field_class.available_modifiers
    )
    assert isinstance(field_class.available_getters, frozenset)
    for name in field_class.available_commands:
        assert callable(getattr(field_class, name)), name


def test_parity_field_available_commands_without_expiry():
    assert InstanceHashField.available_getters == {"hget"}
    assert InstanceHashField.available_modifiers == {
        "delete", "hdel", "hset", "hsetnx", "hincrby", "hincrbyfloat",
    }  # fmt: skip
    for pk_class in (PKField, AutoPKField):
        assert pk_class.available_getters == {"get"}
        assert pk_class.available_modifiers == {"set"}
        assert pk_class.available_commands == {"get", "set"}


def test_parity_field_available_commands_on_instances_and_subclasses(Everything):
    instance = Everything(string="a")
    assert instance.string.available_getters == StringField.available_getters

    class Counter(StringField):
        extra_getters = ("double",)

        def double(self):
            return 2 * int(self.get())

    assert Counter.available_getters == StringField.available_getters | {"double"}
    assert Counter.available_modifiers == StringField.available_modifiers


# -- a subclass replacing its parent's pk ----------------------------------------------


def test_parity_field_subclass_replaces_parent_pk(database):
    db = database

    class Parent(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField()

    class Child(Parent):
        ident = PKField()
        other = StringField()

    assert type(Parent.get_field("pk")) is AutoPKField
    assert Child.get_field("pk") is Child.get_field("ident")
    assert [field.name for field in Child._meta.get_fields()] == ["ident", "name", "other"]
    child = Child(ident="a", name="n", other="o")
    assert child.pk.get() == "a" and child.name.get() == "n"
    parent = Parent(name="p")
    assert parent.pk.get() == "1"
    assert set(Child.collection()) == {"a"}
    assert set(Parent.collection()) == {"1"}

    class GrandChild(Child):
        pk = AutoPKField()

    assert [field.name for field in GrandChild._meta.get_fields()] == ["pk", "name", "other"]
    assert GrandChild(name="g").pk.get() == "1"


def test_parity_field_subclass_replaces_parent_named_pk(database):
    db = database

    class Named(RedisModel):
        database = db
        namespace = NAMESPACE
        name = PKField()
        color = InstanceHashField()

    class Counted(Named):
        id = AutoPKField()

    assert not Counted._meta.has_field("name")
    assert Counted.get_field("pk") is Counted.get_field("id")
    assert Counted(color="red").pk.get() == "1"
    assert Named(name="x", color="blue").pk.get() == "x"
    with pytest.raises(ImplementationError, match="several pk fields"):

        class Twice(Named):
            first = PKField()
            second = PKField()


# -- zadd's forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "result", "content"),
    [
        (({"a": 1, "b": 2},), {}, 1, {"a": 1, "b": 2}),  # a mapping, first positional
        (({"a": 5, "b": 2},), {"ch": True}, 2, {"a": 5, "b": 2}),  # a changed, ch counts it
        (({"a": 5, "c": 3}, True), {}, 2, {"a": 5, "c": 3}),  # ch as second positional
        ((), {"mapping": {"a": 1, "d": 0}}, 1, {"a": 1, "d": 0}),  # mapping= keyword
        ((), {"mapping": {"a": 7}, "ch": True}, 1, {"a": 7}),
        ((), {"a": 2.5, "e": 1}, 1, {"a": 2.5, "e": 1}),  # members as keywords
        ((), {"a": 9, "f": 1, "ch": True}, 2, {"a": 9, "f": 1}),  # ch is a flag
        ((), {"a": 9, "ch": False}, 0, {"a": 9}),
    ],
)
def test_parity_field_zadd_forms(Everything, database, args, kwargs, result, content):
    instance = Everything(zset={"a": 1})
    assert instance.zset.zadd(*args, **kwargs) == result
    for member, score in content.items():
        assert instance.zset.zscore(member) == score


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({"a": 1},), {"b": 2}, "a mapping and member keywords"),
        ((), {"mapping": {"a": 1}, "b": 2}, "a mapping and member keywords"),
        (({"a": 1},), {"mapping": {"b": 2}}, "mapping twice"),
        (({"a": 1}, True), {"ch": True}, "ch twice"),
        (({"a": 1}, True, False), {}, "got 3 arguments"),
        ((1, "a"), {}, "takes a mapping"),  # limpyd 1's (score, member) form
        ((["a", 1],), {}, "takes a mapping"),
    ],
)
def test_parity_field_zadd_ambiguous_mixes_are_type_errors(Everything, args, kwargs, message):
    instance = Everything(zset={"z": 0})
    with pytest.raises(TypeError, match=message):
        instance.zset.zadd(*args, **kwargs)
    assert instance.zset.zmembers() == ["z"]  # nothing written


@pytest.mark.parametrize("flag", ["nx", "xx", "incr", "gt", "lt"])
def test_parity_field_zadd_unsupported_flags(Everything, flag):
    instance = Everything(zset={"z": 0})
    for args, kwargs in (((), {"a": 1, flag: True}), (({"a": 1},), {flag: True})):
        with pytest.raises(ImplementationError, match=f"{flag} not supported"):
            instance.zset.zadd(*args, **kwargs)
    assert instance.zset.zmembers() == ["z"]
