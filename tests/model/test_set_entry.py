"""``InstanceHashField.hset`` sent directly (``writes.set_entry``) in the usual case: the
same command, result and errors as the general write path, which it leaves to every
other case."""

from __future__ import annotations

import pytest

from django_limpyd import fields, signals
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.model import RedisModel, writes
from django_limpyd.test.commands import count_commands


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "set_entry"
        email = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)
        note = fields.InstanceHashField()

    Person.use_database(database)
    database.load_scripts()
    return Person


def _run(Person):
    ann = Person(email="a@x", city="Paris")
    Person(email="b@x", city="Lyon")
    outcomes = [
        Person.lazy_connect(ann.pk.get()).city.hset("Rome"),  # replaced: 0
        ann.note.hset("new"),  # a new entry: 1
        ann.note.hset(12),  # prepared as "12"
        ann.city.hset("Rome"),  # the same value
    ]
    for write in (
        lambda: ann.email.hset("b@x"),  # taken
        lambda: Person.lazy_connect("99").city.hset("Nice"),  # no such instance
    ):
        with pytest.raises(Exception) as raised:
            write()
        outcomes.append((type(raised.value), str(raised.value)))
    return outcomes, Person(ann.pk.get()).hgetall()


def test_direct_hset_matches_the_general_path(Person, database, monkeypatch):
    direct = _run(Person)
    assert direct[0][:4] == [0, 1, 0, 0]
    assert direct[0][4][0] is UniquenessError
    assert direct[0][5][0] is Person.DoesNotExist
    assert consistency_check(Person) == []
    database.connection.flushdb()
    monkeypatch.setattr(writes, "set_entry", lambda field, value: writes.GENERAL)
    assert _run(Person) == direct


def test_direct_hset_sends_one_call(Person):
    ann = Person(email="a@x", city="Paris")
    with count_commands(Person) as recorder:
        result = writes.set_entry(ann.city, "Lyon")
    assert result == 0
    assert recorder.num_commands == 1
    assert Person.collection(city="Lyon") == {ann.pk.get()}


def test_general_path_when_it_must(Person, database):
    ann = Person(email="a@x", city="Paris")
    assert writes.set_entry(ann.city, "caf\u00e9") is writes.GENERAL  # not ASCII
    assert writes.set_entry(Person().city, "x") is writes.GENERAL  # no pk yet
    with database.pipeline() as pipeline:
        assert writes.set_entry(ann.city, "Lyon") is writes.GENERAL
        ann.city.hset("Lyon")
        assert pipeline.execute() == [0]

    def receiver(**kwargs):
        pass

    signals.post_save.connect(receiver)
    try:
        assert writes.set_entry(ann.city, "Nice") is writes.GENERAL
    finally:
        signals.post_save.disconnect(receiver)
    assert ann.city.hget() == "Lyon"
