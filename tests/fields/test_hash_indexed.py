"""HashField with indexes: each ``key: value`` entry indexed as ``len(key):key:value``.

Every configuration runs every write command; after each, ``consistency_check``
finds nothing and the instance is indexed under exactly its entries.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields, model
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import CONFIGS, index_entries, keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_hash_idx"
SCRATCH = "t_hash_idx_scratch"
ENTRIES = {"from": "foo@bar.com", "to": "me@world.org", "n": "10", "f": "1.5"}


def make_model(database, options):
    db = database

    class Email(model.RedisModel):
        database = db
        namespace = NAMESPACE
        headers = fields.HashField(**options)

    return Email


#: the configurations of tests/fields/helpers.py a HashField takes (it cannot be unique)
HASH_CONFIGS = [name for name in CONFIGS if "unique" not in name]


@pytest.fixture(params=HASH_CONFIGS)
def Email(request, database):
    return make_model(database, CONFIGS[request.param])


def raw(connection, key):
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "hash", f"{key} is a {kind}"
    return connection.hgetall(key)


def field_key(instance):
    return type(instance)._meta.keys.field("headers", instance.pk.get())


def entry(key, value):
    """How an index sees one hash entry (ASCII keys: characters = bytes)."""
    return f"{len(key)}:{key}:{value}"


def assert_indexed(*instances):
    model_class = type(instances[0])
    assert consistency_check(model_class) == []
    connection = model_class._meta.database.connection
    for instance in instances:
        pk = instance.pk.get()
        entries = raw(connection, field_key(instance)) or {}
        for index in model_class.get_field("headers").indexes:
            assert index_entries(index, pk) == {
                index.transform_value(entry(k, v)) for k, v in entries.items()
            }


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


# -- every write, like redis-py, indexes kept -------------------------------------------

WRITES = [
    ("hset", ("new", "value"), {}),
    ("hset", ("from", "other"), {}),
    ("hset", ("from", "foo@bar.com"), {}),
    ("hset", (3, 2.5), {}),
    ("hsetnx", ("new", "value"), {}),
    ("hsetnx", ("from", "other"), {}),
    ("hdel", ("from",), {}),
    ("hdel", ("from", "nope", "to"), {}),
    ("hdel", ("from", "to", "n", "f"), {}),
    ("hincrby", ("n",), {}),
    ("hincrby", ("n", -20), {}),
    ("hincrby", ("new",), {"amount": 3}),
    ("hincrbyfloat", ("f", 0.25), {}),
    ("hincrbyfloat", ("new",), {"amount": 2.5}),
    ("delete", (), {}),
]


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py_and_indexed(Email, database, command, args, kwargs):
    connection = database.connection
    email = Email(headers=ENTRIES)
    other = Email(headers={"from": "someone", "x": "1"})
    assert_indexed(email, other)
    connection.hset(SCRATCH, mapping=ENTRIES)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(email.headers, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(email)) == raw(connection, SCRATCH)
    assert raw(connection, field_key(other)) == {"from": "someone", "x": "1"}
    assert_indexed(email, other)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(({"from": "x", "new": "y"},), {}), ((), {"from": "x", "subject": "hi"}),
     (({"a": 1},), {"b": 2.5})],
)  # fmt: skip
def test_hmset(Email, database, args, kwargs):
    email = Email(headers=ENTRIES)
    assert email.headers.hmset(*args, **kwargs) is True
    expected = dict(ENTRIES)
    for mapping in (*args, kwargs):
        expected.update({str(k): str(v) for k, v in mapping.items()})
    assert raw(database.connection, field_key(email)) == expected
    assert_indexed(email)


def test_seed_example_indexed(Email, database):
    email = Email()
    email.headers.hmset(**{"from": "foo@bar.com", "to": "me@world.org"})
    assert email.headers.hget("from") == "foo@bar.com"
    index = Email.get_field("headers").get_index()
    assert index_entries(index, email.pk.get()) == {
        index.transform_value("4:from:foo@bar.com"),
        index.transform_value("2:to:me@world.org"),
    }
    assert_indexed(email)


def test_sequence_of_writes(Email, database):
    first = Email()
    assert first.headers.hset("a", "1") == 1
    second = Email(headers={"b": "2"})
    assert_indexed(first, second)
    assert first.headers.hincrby("a", 2) == 3
    assert second.headers.hsetnx("c", "3") == 1
    assert_indexed(first, second)
    assert first.headers.hdel("a") == 1
    assert raw(database.connection, field_key(first)) is None
    assert_indexed(first, second)
    assert second.delete() is True
    assert_indexed(first)
    assert first.delete() is True
    assert consistency_check(Email) == []
    assert keyspace(database) == [Email._meta.keys.max_pk]


def test_same_entry_in_two_instances(Email, database):
    first = Email(headers={"from": "x"})
    second = Email(headers={"from": "x", "to": "y"})
    index = Email.get_field("headers").get_index()
    first.headers.hset("from", "z")
    assert index.transform_value("4:from:x") in index_entries(index, "2")
    assert_indexed(first, second)
    first.delete()
    assert_indexed(second)


def test_value_and_key_both_indexed(database):
    """An entry is found by key *and* value: 'a: bc' and 'ab: c' are different entries."""
    Email = make_model(database, CONFIGS["indexable"])
    Email(headers={"a": "b:c"})
    Email(headers={"a:b": "c"})
    index = Email.get_field("headers").get_index()
    assert database.connection.smembers(index.get_storage_key("1:a:b:c")) == {"1"}
    assert database.connection.smembers(index.get_storage_key("3:a:b:c")) == {"2"}
    assert sorted(Email.collection(headers={"a": "b:c"})) == ["1"]
    assert sorted(Email.collection(headers={"a:b": "c"})) == ["2"]


@pytest.mark.parametrize("config", ["indexable", "transform"])
def test_non_ascii_key(database, config):
    Email = make_model(database, CONFIGS[config])
    Email(headers={"été": "x"})
    Email().headers.hset("clé", "y")
    assert consistency_check(Email) == []
    # filter values are compared with what the index stores (not transformed)
    wanted = {"ÉTÉ": "X"} if config == "transform" else {"été": "x"}
    assert list(Email.collection(headers=wanted)) == ["1"]


def test_text_index_refuses_nul(database):
    Email = make_model(database, CONFIGS["text"])
    email = Email(headers={"a": "1"})
    before = keyspace(database)
    bad = [("hset", ("b", "x\0y")), ("hset", ("x\0y", "b")),
           ("hmset", ({"c": "d", "e": "\0"},)), ("hsetnx", ("f", "\0"))]  # fmt: skip
    for command, args in bad:
        with pytest.raises(InvalidValue, match=r"Email\.headers"):
            getattr(email.headers, command)(*args)
    with pytest.raises(InvalidValue, match=r"Email\.headers"):
        Email(headers={"x": "\0"})
    assert keyspace(database) == before
    assert raw(database.connection, field_key(email)) == {"a": "1"}
    assert_indexed(email)


# -- uniqueness -------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"unique": True}, {"unique": True, "indexable": True}])
def test_unique_is_refused(database, options):
    """As in limpyd, a HashField cannot be unique (an ImplementationError when the class
    is defined)."""
    with pytest.raises(ImplementationError, match="A HashField cannot be unique"):
        make_model(database, options)


# -- expiry, deleted instances ----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [("expire", (10,)), ("pexpire", (10000,)), ("expireat", (2_000_000_000,)),
     ("pexpireat", (2_000_000_000_000,)), ("persist", ()), ("ttl", ()), ("pttl", ())],
)  # fmt: skip
def test_expiry_refused(Email, database, command, args):
    email = Email(headers={"a": "1"})
    with pytest.raises(ImplementationError, match=r"Email\.headers"):
        getattr(email.headers, command)(*args)
    assert database.connection.ttl(field_key(email)) == -1


@pytest.mark.parametrize(
    ("command", "args"),
    [("hset", ("b", "x")), ("hmset", ({"b": "x"},)), ("hsetnx", ("b", "x")), ("hdel", ("a",)),
     ("hincrby", ("n",)), ("hincrbyfloat", ("n",)), ("delete", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Email, database, command, args):
    email = Email(headers={"a": "1"})
    pk = email.pk.get()
    assert email.delete() is True
    assert consistency_check(Email) == []
    before = keyspace(database)
    with pytest.raises(Email.DoesNotExist):
        getattr(Email.lazy_connect(pk).headers, command)(*args)
    assert keyspace(database) == before


# -- round trips ------------------------------------------------------------------------

ROUND_TRIP_WRITES = [*WRITES, ("hmset", ({"from": "x", "new": "y"},), {})]


@pytest.mark.parametrize(
    ("command", "args", "kwargs"), ROUND_TRIP_WRITES, ids=_ids(ROUND_TRIP_WRITES)
)
def test_write_round_trips(Email, database, command, args, kwargs):
    email = Email(headers=ENTRIES)
    database.load_scripts()
    transformed = Email.get_field("headers").get_index().has_transform
    with count_commands(database) as recorder:
        getattr(email.headers, command)(*args, **kwargs)
    assert all(sent[0] in FUNCTION_CALLS for sent in recorder.commands)
    if transformed:
        assert recorder.num_round_trips <= 2
        assert recorder.num_commands <= 2
    else:
        assert recorder.num_commands == 1
        assert recorder.num_round_trips == 1
    assert_indexed(email)


@pytest.mark.parametrize(
    ("command", "args"),
    [("hget", ("from",)), ("hgetall", ()), ("hmget", ("from", "to")), ("hkeys", ()),
     ("hvals", ()), ("hexists", ("n",)), ("hlen", ()), ("hstrlen", ("to",))],
)  # fmt: skip
def test_read_is_one_command(Email, database, command, args):
    email = Email(headers=ENTRIES)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(email.headers, command)(*args)
