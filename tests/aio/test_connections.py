"""One async client per database and event loop: built from the same settings, closed
with its loop, never retrying a write, loading the libraries the server lost."""

import asyncio
import threading

import pytest
import redis

from django_limpyd import databases, fields
from django_limpyd.aio import aclose_clients, get_client
from django_limpyd.aio.client import AsyncLimpydRedis
from django_limpyd.client import retry_count
from django_limpyd.database import RedisDatabase
from django_limpyd.model import RedisModel
from django_limpyd.storage.functions import uses_functions
from django_limpyd.test.commands import assert_num_commands
from django_limpyd.test.server import PrivateRedisServer
from tests.tools.proxy import DROP_REPLY, HANDSHAKE_COMMANDS, FaultProxy


class Counter(RedisModel):
    namespace = "aio-connections"
    database = "default"
    name = fields.InstanceHashField(unique=True)
    hits = fields.StringField()


def test_the_client_is_built_from_the_alias_settings():
    database = databases["default"]

    async def main():
        client = get_client(database)
        assert get_client(database) is client  # one per loop
        kwargs = client.connection_pool.connection_kwargs
        sync_kwargs = database.connection.connection_pool.connection_kwargs
        assert kwargs["decode_responses"] is True
        for name in ("db", "socket_timeout", "socket_connect_timeout", "path", "host", "port"):
            if name in sync_kwargs:
                assert kwargs[name] == sync_kwargs[name], name
        assert retry_count(kwargs["retry"]) == 0
        assert client.read_retries == database.connection.read_retries
        assert await client.ping() is True
        return client

    client = asyncio.run(main())
    assert isinstance(client, AsyncLimpydRedis)


def test_each_loop_has_its_own_client_closed_at_shutdown():
    database = databases["default"]
    clients = []

    async def main():
        client = get_client(database)
        await client.ping()
        clients.append(client)
        return client.connection_pool

    pool = asyncio.run(main())
    connections = pool._available_connections  # closed by the loop's shutdown
    assert connections and not any(connection.is_connected for connection in connections)
    other = threading.Thread(target=asyncio.run, args=(main(),))
    other.start()
    other.join()
    assert clients[0] is not clients[1]


def test_aclose_clients_and_a_database_that_reconnects():
    database = databases["default"]

    async def main():
        first = get_client(database)
        await first.ping()
        await aclose_clients()
        second = get_client(database)
        assert second is not first
        database.close()  # the sync client is dropped: a new async one too
        third = get_client(database)
        assert third is not second
        assert await third.ping() is True

    asyncio.run(main())


def test_the_server_lost_its_library(database):
    class Item(RedisModel):
        namespace = "aio-connections"
        name = fields.InstanceHashField(indexable=True)

    Item.use_database(database)

    async def main():
        await Item.acreate(name="a")
        client = get_client(database)
        # Redis 7: the library is a function; 6.2: a script (NOSCRIPT once flushed)
        flush = client.function_flush if uses_functions(client) else client.script_flush
        await flush()
        # as on the sync path: the call that ran nothing, then again; the load unseen
        with assert_num_commands(2, database):
            await Item.acreate(name="b")
        await flush()
        assert [item.pk.get() async for item in Item.objects.filter(name="b")] == ["2"]
        await flush()
        assert await Item.objects.acount() == 2

    asyncio.run(main())


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory):
    server = PrivateRedisServer(tmp_path_factory.mktemp("aio-redis"), tcp=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxied(tcp_server):
    direct = redis.Redis(port=tcp_server.port, decode_responses=True)
    direct.flushall()
    with FaultProxy(tcp_server.port, timeout=5) as proxy:
        database = RedisDatabase(host="127.0.0.1", port=proxy.port, socket_timeout=5)

        class Hit(RedisModel):
            namespace = "aio-cut"
            name = fields.InstanceHashField(indexable=True)
            count = fields.StringField()

        Hit.use_database(database)
        try:
            yield proxy, direct, Hit
        finally:
            database.close()
    direct.close()


def test_a_write_whose_reply_is_lost_is_never_sent_again(proxied):
    proxy, direct, Hit = proxied

    async def main():
        hit = await Hit.acreate(name="a")
        await hit.count.aincr()
        proxy.arm(1, DROP_REPLY, skip=HANDSHAKE_COMMANDS)
        with pytest.raises(redis.ConnectionError):
            await hit.count.aincr()
        proxy.arm(1, DROP_REPLY, skip=HANDSHAKE_COMMANDS)
        with pytest.raises(redis.ConnectionError):
            await Hit.acreate(name="b")
        return hit.pk.get()

    asyncio.run(main())
    assert direct.get("{aio-cut:Hit}:f:count:1") == "2"  # applied once, not retried
    assert direct.zcard("{aio-cut:Hit}:pks") == 2  # the lost create applied once


def test_a_read_whose_reply_is_lost_is_sent_again(proxied):
    proxy, _direct, Hit = proxied

    async def main():
        hit = await Hit.acreate(name="a")
        proxy.arm(1, DROP_REPLY, skip=HANDSHAKE_COMMANDS)
        assert await hit.name.ahget() == "a"
        assert proxy.fired.is_set()
        proxy.arm(1, DROP_REPLY, skip=HANDSHAKE_COMMANDS)
        assert await Hit.objects.filter(name="a").acount() == 1  # FCALL_RO or SCARD

    asyncio.run(main())


def test_sync_calls_from_a_running_loop_are_refused(monkeypatch):
    from django.core.exceptions import SynchronousOnlyOperation

    Counter(name="Ann")

    async def main():
        with pytest.raises(SynchronousOnlyOperation, match="sync_to_async"):
            Counter(1)
        ann = Counter.lazy_connect(1)
        with pytest.raises(SynchronousOnlyOperation):
            ann.name.hget()
        with pytest.raises(SynchronousOnlyOperation):
            Counter.objects.count()
        with (
            pytest.raises(SynchronousOnlyOperation),
            databases["default"].pipeline() as pipeline,
        ):
            ann.hits.incr()
            pipeline.execute()
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        assert ann.name.hget() == "Ann"

    asyncio.run(main())
    assert Counter(1).name.hget() == "Ann"  # outside the loop: as always


def test_a_client_without_a_known_pool_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    from django_limpyd.aio.client import build_async_client

    class Unknown:
        read_retries = 1

    with pytest.raises(ImproperlyConfigured, match="no transport"):
        build_async_client(Unknown(), [])


def test_tasks_beyond_the_pool_size_wait_for_a_connection(redis_server):
    database = RedisDatabase(**redis_server.connection_kwargs(), max_connections=3)

    class Small(RedisModel):
        namespace = "aio-small-pool"
        name = fields.InstanceHashField(indexable=True)

    Small.use_database(database)

    async def main():
        created = await asyncio.gather(*(Small.acreate(name=f"n{k}") for k in range(40)))
        assert get_client(database).connection_pool.max_connections == 3
        return len({instance.pk.get() for instance in created})

    try:
        assert asyncio.run(main()) == 40
    finally:
        database.close()
