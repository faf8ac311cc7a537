"""Which server each command of a database with a replica goes to.

Each test runs a primary and a read-only replica in sync (``servers``), and counts
what each ran (``INFO commandstats``: the servers are private to the test). Reads
of fields and instances run on the replica, writes on the primary; a replica whose
replication is stopped keeps serving the old data, which shows where reads go and
what ``using_primary()``, pipelines and transactions read instead.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.exceptions import ReadOnlyError

from django_limpyd.database import RedisDatabase
from django_limpyd.test.commands import assert_num_commands
from tests.replicas.conftest import DATABASE, Person
from tests.replicas.helpers import command_counts, commands_since, stop_replication
from tests.tools.servers import redis_version, start_replica, wait_in_sync

pytestmark = pytest.mark.timeout(30)


def make_person() -> Person:
    person = Person(name="Ann", city="Paris")
    person.tags.sadd("a", "b")
    person.scores.zadd({"x": 1, "y": 2})
    person.visits.rpush("mon", "tue")
    person.extra.hset("k", "v")
    return person


def test_field_reads_run_on_the_replica(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    read = {
        "hget": person.name.hget(),
        "get": person.city.get(),
        "smembers": sorted(person.tags.smembers()),
        "zrange": person.scores.zrange(0, -1),
        "lrange": person.visits.lrange(0, -1),
        "hgetall": person.extra.hgetall(),
        "exists": person.city.exists(),
        "hmget": person.hmget("name"),
        "strlen": person.city.strlen(),
        "sscan": sorted(person.tags.sscan()),
    }
    assert read == {
        "hget": "Ann",
        "get": "Paris",
        "smembers": ["a", "b"],
        "zrange": ["x", "y"],
        "lrange": ["mon", "tue"],
        "hgetall": {"k": "v"},
        "exists": True,
        "hmget": ["Ann"],
        "strlen": 5,
        "sscan": ["a", "b"],
    }
    assert commands_since(primary, before[0]) == {}
    assert commands_since(replica, before[1]) == {name: 1 for name in read}


def test_instance_reads_run_on_the_replica(servers):
    primary, replica = servers
    pk = make_person().pk.get()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    assert Person(pk).pk.get() == pk
    assert Person.exists(pk) is True
    assert [p.pk.get() for p in Person.from_pks([pk, "99"])] == [pk]
    assert [p.pk.get() for p in Person.instances()] == [pk]
    assert commands_since(primary, before[0]) == {}
    assert sum(commands_since(replica, before[1]).values()) == 4  # one command each


def test_a_checked_read_runs_its_function_on_the_replica(servers):
    primary, replica = servers
    pk = make_person().pk.get()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    with pytest.raises(Person.DoesNotExist):
        Person.lazy_connect("99").city.get()
    call = "fcall_ro" if redis_version(replica) >= (7,) else "evalsha"
    assert commands_since(primary, before[0]) == {}
    assert commands_since(replica, before[1])[call] == 2


def test_writes_go_to_the_primary(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    person.name.hset("Bob")
    person.tags.srem("a")
    Person(name="Cid").delete()
    on_primary = commands_since(primary, before[0])
    on_replica = commands_since(replica, before[1])
    call = "fcall" if redis_version(primary) >= (7,) else "evalsha"
    assert on_primary[call] == 4  # create, hset, srem, delete: one function call each
    assert call not in on_replica  # the replica only applies what the primary sends
    wait_in_sync(primary, replica)
    assert person.name.hget() == "Bob"  # read on the replica, once in sync
    assert person.tags.smembers() == {"b"}
    # the client of reads is a replica's: a write through it is refused
    with pytest.raises(ReadOnlyError):
        DATABASE.read_connection.set("key", "value")


def test_a_replica_that_stopped_replicating_serves_stale_reads(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    stop_replication(replica)
    person.name.hset("Bob")
    assert person.name.hget() == "Ann"  # the replica's: stale
    assert Person.exists(Person(name="Cid").pk.get()) is False  # created on the primary


def test_using_primary_reads_fresh_data(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    stop_replication(replica)
    person.name.hset("Bob")
    with DATABASE.using_primary():
        assert DATABASE.read_connection is DATABASE.connection
        assert person.name.hget() == "Bob"
        assert Person.lazy_connect(person.pk.get()).name.hget() == "Bob"
        with DATABASE.using_primary():  # nested
            assert person.name.hget() == "Bob"
        assert person.name.hget() == "Bob"
    assert person.name.hget() == "Ann"

    @DATABASE.using_primary()
    def fresh_name() -> str:
        return person.name.hget()

    assert fresh_name() == "Bob"
    assert fresh_name() == "Bob"  # a decorator: a fresh context each call
    assert person.name.hget() == "Ann"


def test_using_primary_applies_to_its_thread_only(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    stop_replication(replica)
    person.name.hset("Bob")
    inside = threading.Event()
    release = threading.Event()

    def in_other_thread() -> str:
        with DATABASE.using_primary():
            inside.set()
            release.wait(10)
            return person.name.hget()

    with ThreadPoolExecutor(2) as pool:
        forced = pool.submit(in_other_thread)
        assert inside.wait(10)
        assert pool.submit(person.name.hget).result(timeout=10) == "Ann"
        assert person.name.hget() == "Ann"
        release.set()
        assert forced.result(timeout=10) == "Bob"


def test_pipelines_read_the_primary(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    stop_replication(replica)
    person.name.hset("Bob")
    lazy = Person.lazy_connect(person.pk.get())
    before = command_counts(replica)
    with DATABASE.pipeline(transaction=False) as pipeline:
        assert DATABASE.read_connection is DATABASE.connection
        person.name.hget()
        lazy.city.get()  # the checked read, queued
        assert person.city.exists() is True  # sent at once, on the primary
        results = pipeline.execute()
    assert results == ["Bob", "Paris"]
    assert commands_since(replica, before) == {}
    assert person.name.hget() == "Ann"  # after the pipeline: the replica again


def test_transactions_read_the_primary(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    stop_replication(replica)
    person.name.hset("Bob")
    seen = []

    def rename(pipeline):
        seen.append(person.name.hget())  # sent at once: between WATCH and MULTI
        pipeline.multi()
        person.name.hset(seen[-1] + "!")

    before = command_counts(replica)
    DATABASE.transaction(rename, person.name)
    assert seen == ["Bob"]
    assert commands_since(replica, before) == {}
    with DATABASE.using_primary():
        assert person.name.hget() == "Bob!"


def test_several_replicas_take_reads_in_turn(servers, tmp_path_factory):
    primary, replica = servers
    second = start_replica(primary, tmp_path_factory.mktemp("rep2"), timeout=10)
    try:
        DATABASE.connect(
            **primary.connection_kwargs(),
            socket_timeout=5,
            replicas=[replica.connection_kwargs(), second.connection_kwargs()],
        )
        person = make_person()
        wait_in_sync(primary, replica)
        wait_in_sync(primary, second)
        assert len(DATABASE.replica_connections) == 2
        before = command_counts(replica), command_counts(second)
        assert [person.name.hget() for _ in range(4)] == ["Ann"] * 4
        assert commands_since(replica, before[0]) == {"hget": 2}
        assert commands_since(second, before[1]) == {"hget": 2}
    finally:
        DATABASE.close()
        second.stop()


def test_without_replicas_reads_use_the_primary(servers):
    primary, _replica = servers
    database = RedisDatabase(**primary.connection_kwargs(), socket_timeout=5)
    try:
        assert database.replica_connections == []
        assert database.read_connection is database.connection
        assert database.read_command_connection is database.connection
    finally:
        database.close()


def test_replica_arguments_come_over_the_primarys(servers):
    _primary, replica = servers
    kwargs = DATABASE.replica_connections[0].connection_pool.connection_kwargs
    assert kwargs["path"] == replica.unix_socket_path
    assert kwargs["socket_timeout"] == 5  # the primary's
    assert kwargs["decode_responses"] is True


def test_command_counts_include_the_reads_on_replicas(servers):
    primary, replica = servers
    person = make_person()
    wait_in_sync(primary, replica)
    with assert_num_commands(2, DATABASE):
        person.name.hget()  # on the replica
        person.name.hset("Bob")  # on the primary


def test_collections_run_on_the_replica(servers):
    primary, replica = servers
    ann, bob = make_person().pk.get(), Person(name="Bob").pk.get()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    assert list(Person.collection(name="Ann")) == [ann]  # straight from the index's set
    assert list(Person.collection().sort(by="name", alpha=True)[0:2]) == [ann, bob]
    assert len(Person.collection()) == 2
    assert Person.collection(pk__in=[ann, "99"]).count_and_slice(0, 5) == (1, [ann])
    assert commands_since(primary, before[0]) == {}
    on_replica = commands_since(replica, before[1])
    if redis_version(replica) >= (7,):
        assert on_replica["fcall_ro"] == 3
        assert on_replica["sort_ro"] == 2  # one sent, one inside the sorted page's call
    else:
        assert on_replica["smembers"] == 1
        assert on_replica["evalsha"] == 3
    with DATABASE.using_primary():
        assert len(Person.collection()) == 2
    assert commands_since(replica, before[1]) == on_replica
