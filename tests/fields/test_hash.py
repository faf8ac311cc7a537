"""HashField (not indexed): every command, compared with redis-py on a plain key.

Each command is sent both through the field and through the database's redis-py
client on a scratch key holding the same entries; the results must be equal and
of the same type, and the stored hashes identical afterwards.
"""

from __future__ import annotations

import datetime
import types
import warnings

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields, model
from django_limpyd.exceptions import DoesNotExist, InvalidValue
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_hash"
SCRATCH = "t_hash_scratch"
ENTRIES = {"from": "foo@bar.com", "to": "me@world.org", "n": "10", "f": "1.5", "empty": ""}


@pytest.fixture
def Email(database):
    db = database

    class Email(model.RedisModel):
        database = db
        namespace = NAMESPACE
        headers = fields.HashField()

    return Email


def raw(connection, key):
    """What Redis holds at ``key`` (``None`` when there is no such key)."""
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "hash", f"{key} is a {kind}"
    return connection.hgetall(key)


def field_key(email, name="headers"):
    return type(email)._meta.keys.field(name, email.pk.get())


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


def redis_py(connection, command, *args, **kwargs):
    """``connection.<command>(SCRATCH, ...)`` (hmset's deprecation warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(connection, command)(SCRATCH, *args, **kwargs)


# -- the seed ---------------------------------------------------------------------------


def test_seed_example(Email, database):
    email = Email()
    headers = {"from": "foo@bar.com", "to": "me@world.org"}
    email.headers.hmset(**headers)
    assert email.headers.hget("from") == "foo@bar.com"
    assert raw(database.connection, field_key(email)) == headers


def test_declared_commands():
    assert set(fields.HashField.read_commands) >= {
        "hget", "hgetall", "hmget", "hkeys", "hvals", "hexists", "hlen", "hstrlen", "ttl", "pttl",
    }  # fmt: skip
    assert set(fields.HashField.write_commands) >= {
        "hdel", "hmset", "hset", "hsetnx", "hincrby", "hincrbyfloat",
        "expire", "pexpire", "expireat", "pexpireat", "persist",
    }  # fmt: skip
    for name in ("hscan", "delete"):
        assert callable(getattr(fields.HashField, name))


# -- reads ------------------------------------------------------------------------------

READS = [
    ("hget", ("from",), {}),
    ("hget", ("empty",), {}),
    ("hget", ("nope",), {}),
    ("hgetall", (), {}),
    ("hmget", ("from", "nope", "n"), {}),
    ("hmget", (["from", "to"],), {}),
    ("hkeys", (), {}),
    ("hvals", (), {}),
    ("hexists", ("from",), {}),
    ("hexists", ("nope",), {}),
    ("hlen", (), {}),
    ("hstrlen", ("from",), {}),
    ("hstrlen", ("nope",), {}),
    ("ttl", (), {}),
    ("pttl", (), {}),
]


@pytest.mark.parametrize("initial", [ENTRIES, {}], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_like_redis_py(Email, database, initial, command, args, kwargs):
    connection = database.connection
    email = Email(headers=initial)
    if initial:
        connection.hset(SCRATCH, mapping=initial)
    expected = redis_py(connection, command, *args, **kwargs)
    got = getattr(email.headers, command)(*args, **kwargs)
    if command in ("hkeys", "hvals"):  # same order: both hashes were built alike
        assert sorted(got) == sorted(expected)
    assert_same(got, expected)
    assert raw(connection, field_key(email)) == (initial or None)


def test_hscan_is_a_generator(Email, database):
    entries = {f"k{i}": str(i) for i in range(60)} | {"other": "x"}
    email = Email(headers=entries)
    database.connection.hset(SCRATCH, mapping=entries)
    scan = email.headers.hscan()
    assert isinstance(scan, types.GeneratorType)
    got = list(scan)
    assert all(type(pair) is tuple and len(pair) == 2 for pair in got)
    assert all(type(key) is str and type(value) is str for key, value in got)
    assert dict(got) == entries
    assert sorted(email.headers.hscan(match="k1*")) == sorted(
        database.connection.hscan_iter(SCRATCH, match="k1*")
    )
    assert dict(email.headers.hscan(count=5)) == entries
    assert list(Email(headers={}).headers.hscan()) == []


# -- writes -----------------------------------------------------------------------------

WRITES = [
    ("hset", ("new", "value"), {}),
    ("hset", ("from", "other"), {}),
    ("hset", ("num", 12), {}),
    ("hset", (3, 2.5), {}),
    ("hsetnx", ("new", "value"), {}),
    ("hsetnx", ("from", "other"), {}),
    ("hmset", ({"from": "x", "new": "y"},), {}),
    ("hmset", ({"a": 1, "b": 2.5},), {}),
    ("hdel", ("from",), {}),
    ("hdel", ("from", "nope", "to"), {}),
    ("hdel", ("nope",), {}),
    ("hdel", ("from", "to", "n", "f", "empty"), {}),
    ("hincrby", ("n",), {}),
    ("hincrby", ("n", 5), {}),
    ("hincrby", ("n", -20), {}),
    ("hincrby", ("new",), {"amount": 3}),
    ("hincrbyfloat", ("f",), {}),
    ("hincrbyfloat", ("f", 0.25), {}),
    ("hincrbyfloat", ("n", -0.5), {}),
    ("hincrbyfloat", ("new",), {"amount": 2.5}),
    ("delete", (), {}),
    ("expire", (100,), {}),
    ("pexpire", (100000,), {}),
    ("persist", (), {}),
]


@pytest.mark.parametrize("initial", [ENTRIES, {}], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py(Email, database, initial, command, args, kwargs):
    connection = database.connection
    email = Email(headers=initial)
    if initial:
        connection.hset(SCRATCH, mapping=initial)
    expected = redis_py(connection, command, *args, **kwargs)
    got = getattr(email.headers, command)(*args, **kwargs)
    assert_same(got, expected)
    key = field_key(email)
    assert raw(connection, key) == raw(connection, SCRATCH)
    assert connection.ttl(key) == connection.ttl(SCRATCH)


def test_hmset_with_kwargs(Email, database):
    connection = database.connection
    email = Email(headers=ENTRIES)
    connection.hset(SCRATCH, mapping=ENTRIES)
    assert email.headers.hmset(**{"from": "x", "subject": "hi"}) is True
    assert email.headers.hmset({"a": "1"}, b="2") is True
    redis_py(connection, "hmset", {"from": "x", "subject": "hi", "a": "1", "b": "2"})
    assert raw(connection, field_key(email)) == raw(connection, SCRATCH)


def test_hincrby_on_a_non_number_is_a_redis_error(Email, database):
    email = Email(headers={"from": "x"})
    before = keyspace(database)
    with pytest.raises(ResponseError):
        email.headers.hincrby("from")
    with pytest.raises(ResponseError):
        email.headers.hincrbyfloat("from", 1.5)
    assert keyspace(database) == before
    assert raw(database.connection, field_key(email)) == {"from": "x"}


def test_expiry_commands(Email, database):
    connection = database.connection
    email = Email(headers=ENTRIES)
    key = field_key(email)
    assert email.headers.expire(100) is True
    assert 0 < email.headers.ttl() <= 100
    assert 0 < email.headers.pttl() <= 100000
    assert email.headers.persist() is True
    assert email.headers.ttl() == -1
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=50)
    assert email.headers.expireat(when) is True
    assert 0 < connection.ttl(key) <= 50
    assert email.headers.pexpireat(when + datetime.timedelta(seconds=10)) is True
    assert 50 < connection.pttl(key) <= 60000
    assert email.headers.pexpire(500) is True
    assert 0 < connection.pttl(key) <= 500
    assert raw(connection, key) == ENTRIES
    empty = Email(headers={})
    assert empty.headers.expire(10) is False
    assert empty.headers.ttl() == -2


# -- constructor and bad values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"from": "x"}, {"from": "x"}),
        ({"a": 1, 2: 2.5, "c": ""}, {"a": "1", "2": "2.5", "c": ""}),
        ({"été": "a:b*{c}"}, {"été": "a:b*{c}"}),
    ],
    ids=["one", "numbers-empty", "unicode-specials"],
)
def test_constructor(Email, database, value, stored):
    email = Email(headers=value)
    assert email.pk.get() == "1"
    assert raw(database.connection, field_key(email)) == stored
    assert email.headers.hgetall() == stored


def test_constructor_empty_creates_the_instance_only(Email, database):
    email = Email(headers={})
    assert Email.exists(pk=email.pk.get())
    assert raw(database.connection, field_key(email)) is None


@pytest.mark.parametrize(
    "value",
    [[("a", "b")], "ab", None, {"a": None}, {"a": [1]}, {"a": {"b": 1}}, {None: "x"},
     {("a",): "x"}, {"a": True}],
    ids=["pairs", "str", "None", "None-value", "list-value", "nested", "None-key",
         "tuple-key", "bool-value"],
)  # fmt: skip
def test_constructor_bad_value(Email, database, value):
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Email\.headers"):
        Email(headers=value)
    assert keyspace(database) == before


CHECKED_BAD_WRITES = [
    ("hset", ("a", None)),
    ("hset", (None, "x")),
    ("hset", ("a", ["x"])),
    ("hmset", ({"a": None},)),
    ("hmset", ({},)),
    ("hmset", ({"a": {"b": 1}},)),
]
ENCODED_BAD_WRITES = [
    ("hsetnx", ("a", None)),
    ("hincrby", ("a", None)),
    ("hdel", (None,)),
]


@pytest.mark.parametrize(("command", "args"), CHECKED_BAD_WRITES + ENCODED_BAD_WRITES, ids=repr)
def test_write_bad_value(Email, database, command, args):
    existing = Email(headers={"a": "1"})
    before = keyspace(database)
    with pytest.raises(InvalidValue):
        getattr(existing.headers, command)(*args)
    unsaved = Email()
    with pytest.raises(InvalidValue):
        getattr(unsaved.headers, command)(*args)
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert raw(database.connection, field_key(existing)) == {"a": "1"}


@pytest.mark.parametrize(
    ("command", "args"),
    [
        *CHECKED_BAD_WRITES,
        *(
            pytest.param(
                *case,
            )
            for case in ENCODED_BAD_WRITES
        ),
    ],
    ids=repr,
)
def test_write_bad_value_names_the_field(Email, command, args):
    existing = Email(headers={"a": "1"})
    with pytest.raises(InvalidValue, match=r"Email\.headers"):
        getattr(existing.headers, command)(*args)


# -- instance lifecycle -----------------------------------------------------------------


def test_unsaved_instance_created_by_first_write(Email, database):
    email = Email()
    assert email.headers.delete() == 0
    assert keyspace(database) == []
    assert email.headers.hset("from", "x") == 1
    assert email.pk.get() == "1"
    assert Email.exists(pk="1")
    assert raw(database.connection, field_key(email)) == {"from": "x"}
    other = Email()
    assert other.headers.hmset(to="y") is True
    assert other.pk.get() == "2"
    third = Email()
    assert third.headers.hincrbyfloat("n", 0.5) == 0.5
    assert third.pk.get() == "3"


@pytest.mark.parametrize(
    ("command", "args"),
    [("hset", ("b", "x")), ("hmset", ({"b": "x"},)), ("hsetnx", ("b", "x")), ("hdel", ("a",)),
     ("hincrby", ("n",)), ("hincrbyfloat", ("n",)), ("delete", ()), ("expire", (10,)),
     ("persist", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Email, database, command, args):
    email = Email(headers={"a": "1"})
    pk = email.pk.get()
    assert email.delete() is True
    before = keyspace(database)
    with pytest.raises(Email.DoesNotExist):
        getattr(Email.lazy_connect(pk).headers, command)(*args)
    with pytest.raises(DoesNotExist):
        getattr(email.headers, command)(*args)
    assert keyspace(database) == before


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_is_one_command(Email, database, command, args, kwargs):
    email = Email(headers=ENTRIES)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(email.headers, command)(*args, **kwargs)
    with assert_num_commands(1, database, round_trips=1):
        list(email.headers.hscan())


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_is_one_evalsha(Email, database, command, args, kwargs):
    email = Email(headers=ENTRIES)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(email.headers, command)(*args, **kwargs)
    assert recorder.commands[0][0] in FUNCTION_CALLS


def test_creating_write_is_one_evalsha(Email, database):
    database.load_scripts()
    with count_commands(database) as recorder:
        Email().headers.hmset(a="1")
    assert recorder.num_commands == 1
    assert recorder.commands[0][0] in FUNCTION_CALLS


# -- many entries -----------------------------------------------------------------------


def test_constructor_with_many_entries(Email, database):
    many = {f"k{i}": str(i) for i in range(10000)}
    email = Email(headers=many)
    assert raw(database.connection, field_key(email)) == many


def test_hmset_many_entries(Email, database):
    many = {f"k{i}": str(i) for i in range(5000)}  # 10000 arguments
    email = Email(headers={"a": "1"})
    assert email.headers.hmset(many) is True
    assert raw(database.connection, field_key(email)) == {"a": "1", **many}


def test_every_declared_command_is_tested():
    """A command added to the field must be added to the tests above and below."""
    tested = {name for name, _args, _kwargs in READS + WRITES} | {"hscan", "expireat", "pexpireat"}
    declared = set(fields.HashField.read_commands) | set(fields.HashField.write_commands)
    assert declared <= tested
