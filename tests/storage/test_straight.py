"""The create and the set compiled straight per model (``storage/straight.py``): which
models get them, and that they write, refuse and answer exactly as the generic
``create`` and ``write`` do."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import InvalidValue, UniquenessError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.storage import compiler, functions
from django_limpyd.storage.straight import MAX_FIELDS, create_source, set_source

PLAIN = {
    "fields": [
        {"name": "a", "type": "hfield", "key": "{x:Y}:h:", "multi": False, "indexes": []},
        {"name": "b", "type": "string", "key": "{x:Y}:b:", "multi": False, "indexes": []},
        {"name": "c", "type": "set", "key": "{x:Y}:c:", "multi": True, "indexes": []},
    ],
    "hash": "{x:Y}:h:",
    "referrers": [],
}


def test_which_programs_get_a_compiled_create():
    source = create_source(PLAIN)
    assert "local function create_compiled(M, keys, args)" in source
    assert "{1,2}" in source  # the single-value fields only
    assert create_source({**PLAIN, "expiry": "{x:Y}:deadlines"}) == ""
    assert create_source({**PLAIN, "fields": PLAIN["fields"][2:]}) == ""
    many = [{**PLAIN["fields"][0], "name": f"f{n}"} for n in range(MAX_FIELDS + 1)]
    assert create_source({**PLAIN, "fields": many}) == ""
    library = compiler.compile_library(PLAIN, {})
    assert "callback=function(keys, args) return create_compiled(M, keys, args) end" in (
        library.function_source
    )
    assert "create = function(keys, args) return create_compiled(M, keys, args) end" in (
        library.script_source
    )


def _model(database: Any, namespace: str) -> type:
    body = {
        "__module__": __name__,
        "namespace": namespace,
        "email": fields.InstanceHashField(unique=True),
        "city": fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex]),
        "age": fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex]),
        "name": fields.InstanceHashField(),
        "nick": fields.StringField(indexable=True),
        "tags": fields.SetField(indexable=True),
    }
    thing = type("Thing", (RedisModel,), body)
    thing.use_database(database)
    return thing


@pytest.fixture
def models(database, monkeypatch):
    """The same model twice: with the compiled create, and with the generic one."""
    straight = _model(database, "straight")
    assert "create_compiled" in straight._meta.library.function_source
    monkeypatch.setattr(compiler, "create_source", lambda program: "")
    generic = _model(database, "generic")
    assert "create_compiled" not in generic._meta.library.function_source
    monkeypatch.undo()
    database.load_scripts()
    return straight, generic


def _state(database: Any, namespace: str) -> dict[str, Any]:
    """Every key of ``namespace`` (its name without the namespace) and its contents,
    hash entries in their stored order."""
    client = database.connection
    state = {}
    for key in client.keys(f"*{namespace}*"):
        kind = client.type(key)
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "hash":
            value = client.execute_command("HGETALL", key)
            if isinstance(value, dict):
                value = [item for pair in value.items() for item in pair]
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = client.lrange(key, 0, -1)
        state[key.replace(namespace, "NS")] = (kind, value)
    return state


CREATES = [
    {"email": "a@x", "city": "Paris", "age": "31", "name": "Ann", "nick": "an"},
    {"email": "b@x", "city": "Lyon"},  # some fields only
    {"age": "7", "email": "c@x"},  # not in declaration order: the generic create
    {"email": "d@x", "tags": ["t1", "t2"]},  # a multi-value field: the generic create
    {"nick": "solo"},  # a string field only
    {"email": "a@x", "city": "Nice"},  # a taken unique value: refused
    {"email": "e@x", "city": "bad\0city"},  # refused by the text index
    {"email": "", "city": "", "age": "", "name": "", "nick": ""},  # empty values
    {"email": "f@x", "city": "Paris", "age": "x1", "name": "Bob", "nick": "an"},
]


def _outcome(model: type, values: dict[str, Any]) -> Any:
    try:
        return model(**values).pk.get()
    except (UniquenessError, InvalidValue) as error:
        return type(error), str(error)


def test_compiled_create_matches_the_generic_create(models, database):
    straight, generic = models
    for values in CREATES:
        assert _outcome(straight, values) == _outcome(generic, values), values
        assert _state(database, "straight") == _state(database, "generic"), values
    assert consistency_check(straight) == []
    assert consistency_check(generic) == []


def test_compiled_create_in_pipelines(models, database):
    straight, generic = models
    results = []
    for model in (straight, generic):
        with database.pipeline(transaction=False) as pipeline:
            instances = [model(**values) for values in CREATES[:5]]
            pipeline.execute()
        results.append([instance.pk.get() for instance in instances])
        with pytest.raises(UniquenessError):
            model.bulk_create(CREATES[:2])  # both taken: nothing more written
    assert results[0] == results[1] == ["1", "2", "3", "4", "5"]
    assert _state(database, "straight") == _state(database, "generic")


def test_refused_compiled_create_writes_nothing(models, database):
    straight, _generic = models
    straight(email="a@x", city="Paris", age="3")
    before = _state(database, "straight")
    with pytest.raises(UniquenessError, match="'a@x' already exists"):
        straight(email="a@x", city="Rome", age="4", name="Zed", nick="z")
    with pytest.raises(InvalidValue):
        straight(email="z@x", city="no\0pe")
    assert _state(database, "straight") == before  # the AutoPK counter too


def test_which_creates_take_the_compiled_path(database, monkeypatch):
    """A model whose compiled create refuses to hand over to the generic one: the usual
    creates succeed (the compiled path ran), the others say they were handed over."""
    handover = "if not slots then return create(M, keys, args) end"

    def no_handover(program: Any) -> str:
        source = create_source(program)
        assert handover in source
        return source.replace(handover, "if not slots then return redis.error_reply('GENERIC') end")

    monkeypatch.setattr(compiler, "create_source", no_handover)
    thing = _model(database, "compiled")
    database.load_scripts()
    for values in [*CREATES[:2], CREATES[4], CREATES[7]]:
        assert thing(**values).pk.get()
    for values in (CREATES[2], CREATES[3]):
        with pytest.raises(Exception, match="GENERIC"):
            thing(**values)
    assert consistency_check(thing) == []


def test_compiled_create_with_a_given_pk(database, monkeypatch):
    made = []
    for namespace in ("straight", "generic"):
        if namespace == "generic":
            monkeypatch.setattr(compiler, "create_source", lambda program: "")
        body = {
            "__module__": __name__,
            "namespace": namespace,
            "id": fields.PKField(),
            "email": fields.InstanceHashField(unique=True),
            "name": fields.InstanceHashField(),
        }
        made.append(type("Named", (RedisModel,), body))
        made[-1].use_database(database)
        assert ("create_compiled" in made[-1]._meta.library.function_source) is (
            namespace == "straight"
        )
    database.load_scripts()
    for values in (
        {"id": "ann", "email": "a@x", "name": "Ann"},
        {"id": "ann", "email": "b@x"},  # the pk exists
        {"id": "bob", "email": "a@x"},  # the e-mail is taken
        {"id": "bob", "name": "Bob"},
    ):
        assert _outcome(made[0], values) == _outcome(made[1], values), values
        assert _state(database, "straight") == _state(database, "generic"), values


# -- set: one InstanceHashField entry replaced ---------------------------------------------


def test_which_programs_get_a_compiled_set():
    indexed = {
        **PLAIN,
        "fields": [
            {**PLAIN["fields"][0], "indexes": [{"id": "a/0", "kind": "eq", "base": "{x:Y}:x:"}]},
            *PLAIN["fields"][1:],
        ],
    }
    source = set_source(indexed)
    assert "local function set_compiled(M, keys, args)" in source
    assert "SETTERS['1']" in source and "SETTERS['2']" not in source  # hash entries only
    assert set_source(PLAIN) == ""  # no indexed entry: write() is as short
    for entry in ("expiry", "stride", "moving", "moves", "ready"):  # expiry, a shard
        assert set_source({**indexed, entry: "x"}) == ""
    library = compiler.compile_library(indexed, {"eq": compiler.core_kind_source("eq")})
    assert library.calls["set"] == ("FCALL", library.function("set"))
    assert "set = function(keys, args) return set_compiled(M, keys, args) end" in (
        library.script_source
    )
    assert "set" not in compiler.compile_library(PLAIN, {}).calls


@pytest.fixture
def setters(database, monkeypatch):
    """The same model twice: with the compiled set, and without (hset goes to write)."""
    straight = _model(database, "straight")
    assert "set" in straight._meta.library.calls
    monkeypatch.setattr(compiler, "set_source", lambda program: "")
    generic = _model(database, "generic")
    assert "set" not in generic._meta.library.calls
    monkeypatch.undo()
    database.load_scripts()
    return straight, generic


SETS = [
    ("email", "b@x"),  # replaced (unique)
    ("email", "b@x"),  # the same value
    ("email", "c@x"),  # taken by the other instance: refused
    ("city", "Lyon"),  # two indexes: eq and text
    ("city", "Lyon"),
    ("city", "no\0pe"),  # refused by the text index
    ("age", "12"),  # a number index (its kind's apply)
    ("age", "x1"),  # not a number: scored 0
    ("age", ""),
    ("name", "Bob"),  # no index: the generic write
    ("email", ""),
]


def _set_outcome(model: type, pk: str, name: str, value: str) -> Any:
    try:
        return getattr(model.lazy_connect(pk), name).hset(value)
    except (UniquenessError, InvalidValue, model.DoesNotExist) as error:
        return type(error).__name__, str(error).replace(model.__name__, "M")


def test_compiled_set_matches_the_generic_write(setters, database, monkeypatch):
    operations: list[str] = []
    call = functions.call

    def recorded(client: Any, library: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
        operations.append(operation)
        return call(client, library, operation, *args, **kwargs)

    monkeypatch.setattr(functions, "call", recorded)
    outcomes = []
    for model in setters:
        model(email="a@x", city="Paris", age="31", name="Ann")
        model(email="c@x", city="Nice")
        outcomes.append([_set_outcome(model, "1", name, value) for name, value in SETS])
        outcomes[-1].append(_set_outcome(model, "9", "city", "Rome"))  # no such instance
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == [0, 0]
    assert outcomes[0][2][0] == "UniquenessError"
    assert outcomes[0][5][0] == "InvalidValue"
    assert outcomes[0][-1][0] == "DoesNotExist"
    assert _state(database, "straight") == _state(database, "generic")
    assert consistency_check(setters[0]) == []
    # every hset went to set (name, without index: set handed it to write) on one side,
    # to write on the other
    assert operations.count("set") == operations.count("write") == len(SETS) + 1


def test_compiled_set_refuses_what_it_cannot_do(setters, database):
    straight, _generic = setters
    straight(email="a@x", city="Paris")
    before = _state(database, "straight")
    meta = straight._meta
    keys = [meta.keys.pks, meta.keys.instance_hash("1")]
    positions = meta.field_positions
    for args in (
        ["", positions["city"], "Rome"],  # no pk: set never creates
        ["1", positions["nick"], "n"],  # a string field
        ["1", positions["tags"], "t"],  # a multi-value field
        ["1", "99", "x"],  # no such field
    ):
        with pytest.raises(redis.ResponseError, match="InstanceHashField are needed"):
            functions.call(database.connection, meta.library, "set", keys, args)
    assert _state(database, "straight") == before
