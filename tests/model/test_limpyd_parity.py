"""Issue 19, bullet "Instances": what limpyd 2.1.2 code does with instances runs unchanged.

``Model()`` without values is unsaved (no connection, no pk) and reads as empty until
its first write creates it; ``instance.connection``, ``Model.get_connection()``,
``database.connection_settings`` and ``database.connect(**settings)``; ``_fields``
and ``_name``; the ``post_command`` hook.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import count_commands

NAMESPACE = "t_parity_inst"


def declare(db, name="Email", namespace=NAMESPACE, base=RedisModel, **attrs):
    attrs = {"__module__": __name__, "database": db, "namespace": namespace, **attrs}
    return type(name, (base,), attrs)


@pytest.fixture
def Email(database):
    return declare(
        database,
        subject=fields.StringField(),
        sender=fields.InstanceHashField(),
        headers=fields.HashField(),
        tags=fields.SetField(),
        lines=fields.ListField(),
        scores=fields.SortedSetField(),
        indexed=fields.StringField(indexable=True),
    )


def keyspace(database):
    return sorted(database.connection.keys())


# -- Model() without values ----------------------------------------------------------


def test_parity_instances_empty_model_neither_connects_nor_allocates_a_pk():
    nowhere = RedisDatabase(host="127.0.0.1", port=1)  # nothing listens there
    Email = declare(nowhere, subject=fields.StringField())
    email = Email()
    assert email._pk is None
    assert email.pk.get() is None
    assert nowhere._client is None  # no client was even built


def test_parity_instances_empty_model_sends_nothing(Email, database):
    with count_commands(database) as recorder:
        Email()
    assert recorder.num_commands == 0
    assert keyspace(database) == []


READS = [
    ("subject", "get", (), None),
    ("subject", "strlen", (), 0),
    ("subject", "getrange", (0, -1), ""),
    ("subject", "ttl", (), -2),
    ("sender", "hget", (), None),
    ("headers", "hget", ("from",), None),
    ("headers", "hgetall", (), {}),
    ("headers", "hmget", ("from", "to"), [None, None]),
    ("headers", "hkeys", (), []),
    ("headers", "hlen", (), 0),
    ("headers", "hexists", ("from",), False),
    ("tags", "smembers", (), set()),
    ("tags", "scard", (), 0),
    ("tags", "sort", (), []),
    ("lines", "lrange", (0, -1), []),
    ("lines", "lmembers", (), []),
    ("lines", "llen", (), 0),
    ("lines", "lindex", (0,), None),
    ("lines", "lcontains", ("x",), False),
    ("scores", "zrange", (0, -1), []),
    ("scores", "zmembers", (), []),
    ("scores", "zcard", (), 0),
    ("scores", "zscore", ("x",), None),
    ("indexed", "get", (), None),
]


@pytest.mark.parametrize(
    ("field", "command", "args", "expected"),
    READS,
    ids=[f"{field}.{command}" for field, command, _args, _expected in READS],
)
def test_parity_instances_reads_of_an_unsaved_instance_answer_empty(
    Email, database, field, command, args, expected
):
    email = Email()
    result = getattr(getattr(email, field), command)(*args)
    assert result == expected and type(result) is type(expected)
    assert email._pk is None  # a read allocates no pk
    assert keyspace(database) == []  # and writes nothing


def test_parity_instances_proxy_get_and_scans_of_an_unsaved_instance(Email):
    email = Email()
    assert email.subject.proxy_get() is None
    assert email.headers.proxy_get() == {}
    assert email.tags.proxy_get() == set()
    assert email.lines.proxy_get() == []
    assert email.scores.proxy_get() == []
    assert list(email.headers.hscan()) == []
    assert list(email.tags.sscan()) == []
    assert list(email.scores.zscan()) == []
    for name in ("subject", "sender", "headers", "tags", "lines", "scores"):
        assert getattr(email, name).exists() is False


def test_parity_instances_instance_hash_reads_of_an_unsaved_instance(Email):
    email = Email()
    assert email.hmget("sender") == [None]
    assert email.hgetall() == {}
    assert email.hkeys() == []
    assert email.hvals() == []
    assert email.hlen() == 0


def test_parity_instances_reads_of_an_unsaved_instance_in_a_pipeline(Email, database):
    email = Email()
    with database.pipeline() as pipeline:
        email.subject.get()
        email.tags.smembers()
        email.hgetall()
        assert pipeline.execute() == [None, set(), {}]
    assert email._pk is None


def test_parity_instances_first_write_creates_the_unsaved_instance(Email, database):
    email = Email()
    assert email.tags.smembers() == set()
    assert email.headers.hmset(**{"from": "a@b", "to": "c@d"}) is True
    assert email.pk.get() == "1"  # the reads before took no pk
    assert Email.exists(1)
    assert email.headers.hget("from") == "a@b"
    assert Email().subject.set("hello") is True
    assert Email(2).subject.get() == "hello"
    other = Email()
    assert other.indexed.set("x") is True
    assert list(Email.collection(indexed="x")) == [other.pk.get()]


# -- connections --------------------------------------------------------------------


def test_parity_instances_connection_and_get_connection(Email, database):
    assert Email.get_connection() is database.connection
    email = Email(subject="x")
    assert email.connection is database.connection
    assert Email().connection is database.connection
    with database.pipeline() as pipeline:
        # as in limpyd, what fields send their commands to
        assert Email.get_connection() is pipeline.connection
        assert email.connection is pipeline.connection


@pytest.mark.standalone  # database numbers: a cluster has only db 0
def test_parity_instances_connection_settings_and_connect(Email, database, redis_server):
    settings = database.connection_settings
    for name, value in redis_server.connection_kwargs().items():
        assert settings[name] == value
    assert settings["db"] == 0
    settings["db"] = 5  # a copy
    assert database.connection_settings["db"] == 0
    email = Email(subject="in db 0")
    database.connect(**{**redis_server.connection_kwargs(), "db": 1})
    try:
        assert database.connection_settings["db"] == 1
        assert Email.get_connection().connection_pool.connection_kwargs["db"] == 1
        assert not Email.exists(email.pk.get())
        assert Email(subject="in db 1").pk.get() == "1"
        assert database.connection.keys() != []
    finally:
        database.connect(**redis_server.connection_kwargs())
    assert database.connection_settings["db"] == 0
    assert Email(email.pk.get()).subject.get() == "in db 0"


@pytest.mark.standalone
def test_parity_instances_connection_settings_of_an_alias_database():
    from django_limpyd import databases

    settings = databases["default"].connection_settings
    assert "db" in settings or "path" in settings


# -- _fields and _name --------------------------------------------------------------


def test_parity_instances_fields_and_name(Email, database):
    assert Email._fields == [
        "pk", "subject", "sender", "headers", "tags", "lines", "scores", "indexed",
    ]  # fmt: skip
    assert Email._name == f"{NAMESPACE}:email"
    assert Email(subject="x")._fields is Email._fields
    Plain = declare(database, name="PlainThing", namespace="", name_field=fields.StringField())
    assert Plain._name == ":plainthing"
    Keyed = declare(database, name="Keyed", first=fields.StringField(), ident=fields.PKField())
    assert Keyed._fields == ["ident", "first"]
    Child = declare(database, name="Child", base=Email, extra=fields.SetField())
    assert Child._fields == [*Email._fields, "extra"]
    assert Child._name == f"{NAMESPACE}:child"


# -- post_command ---------------------------------------------------------------------


@pytest.fixture
def Logged(database):
    calls = []
    db = database

    class Logged(RedisModel):
        database = db
        namespace = NAMESPACE
        name = fields.StringField(indexable=True)
        nick = fields.InstanceHashField()
        tags = fields.SetField()
        lines = fields.ListField()

        def post_command(self, sender, name, result, args, kwargs):
            calls.append((sender, name, result, args, kwargs))
            if name == "get" and result is not None:
                return result.upper()
            return result

    Logged.calls = calls
    return Logged


def test_parity_instances_post_command_after_every_field_command(Logged):
    person = Logged(name="ann")
    assert Logged.calls == []  # creation is not a field command
    assert person.name.set("bob") is True
    assert person.name.get() == "BOB"  # the hook's return value is the result
    assert person.tags.sadd("a", "b") == 2
    assert person.tags.scard() == 2
    assert person.nick.hset("b") == 1
    assert [call[1:] for call in Logged.calls] == [
        ("set", True, ("bob",), {}),
        ("get", "bob", (), {}),
        ("sadd", 2, ("a", "b"), {}),
        ("scard", 2, (), {}),
        ("hset", 1, ("b",), {}),
    ]
    assert Logged.calls[0][0] is person.name  # the sender: the bound field
    assert Logged.calls[2][0] is person.tags


def test_parity_instances_post_command_once_per_command_made(Logged):
    person = Logged(lines=["a", "b"])
    assert person.lines.lmembers() == ["a", "b"]  # made with lrange: one call
    assert person.name.proxy_get() is None  # made with get
    assert person.name.delete() == 0
    assert [call[1] for call in Logged.calls] == ["lmembers", "get", "delete"]
    assert person.pk.get() == "1"  # the pk field has no hook
    assert len(Logged.calls) == 3


def test_parity_instances_post_command_after_instance_hash_commands(Logged):
    person = Logged(nick="n")
    assert person.hmget("nick") == ["n"]
    assert person.hmset(nick="m") is True
    assert person.hgetall() == {"nick": "m"}
    assert person.hdel("nick") == 1
    assert [(call[0], call[1], call[3]) for call in Logged.calls] == [
        (person, "hmget", ("nick",)),
        (person, "hmset", ()),
        (person, "hgetall", ()),
        (person, "hdel", ("nick",)),
    ]
    assert Logged.calls[1][4] == {"nick": "m"}


def test_parity_instances_post_command_of_unsaved_instances_and_subclasses(Logged, database):
    unsaved = Logged()
    assert unsaved.name.get() is None
    assert unsaved.name.set("x") is True  # creates it
    assert unsaved.name.get() == "X"
    Child = declare(database, name="LoggedChild", base=Logged, extra=fields.StringField())
    child = Child(extra="e")
    assert child.extra.get() == "E"  # the parent's hook
    assert Logged.calls[-1][0] is child.extra


def test_parity_instances_post_command_costs_nothing_when_not_overridden(Email, Logged):
    email = Email(subject="x")
    assert type(email.subject) is fields.StringField  # the plain class, bound
    assert type(email.tags) is fields.SetField
    assert Email.hmget is RedisModel.hmget
    logged = Logged(name="x")
    assert type(logged.name) is not fields.StringField  # a hooked subclass, bound
    assert isinstance(logged.name, fields.StringField)
    assert type(logged.name).__name__ == "StringField"
    assert type(Logged.get_field("name")) is fields.StringField  # the declared field
    assert type(logged.pk) is fields.AutoPKField


def test_parity_instances_post_command_refused_write_raises(Logged):
    person = Logged(name="x")
    with pytest.raises(ImplementationError):
        person.name.expire(10)  # refused before anything: no hook call
    assert Logged.calls == []


def test_parity_instances_post_command_on_related_fields(database):
    from django_limpyd.contrib.related import FKStringField, M2MSetField, RelatedModel

    calls = []
    db = database

    class Person(RelatedModel):
        database = db
        namespace = NAMESPACE
        name = fields.PKField()

    class Team(RelatedModel):
        database = db
        namespace = NAMESPACE
        owner = FKStringField(Person)
        members = M2MSetField(Person, related_name="teams")

        def post_command(self, sender, name, result, args, kwargs):
            calls.append((sender.name, name, args))
            return result

    ann = Person(name="ann")
    team = Team()
    assert team.owner.set(ann) is True  # creates the team
    assert team.members.sadd(ann, "ann") == 1
    assert team.owner.instance() == ann  # not a command: read with the field's value
    assert team.members.smembers() == {"ann"}
    assert calls == [
        ("owner", "set", (ann,)),
        ("members", "sadd", (ann, "ann")),
        ("members", "smembers", ()),
    ]
    assert list(ann.team_set()) == [team.pk.get()]
