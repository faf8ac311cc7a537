"""The async API on a Redis Cluster (3 masters, 3 replicas on loopback: the fixtures of
tests/cluster/conftest.py): WATCH transactions (``database.atransaction()``) on a
connection of the node of the watched slot, and durable writes (``WAIT`` on the
connection of the write, on the node of its slot)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from redis.exceptions import WatchError

from django_limpyd import fields
from django_limpyd.aio import get_client
from django_limpyd.client_cluster import CrossSlotBatchError
from django_limpyd.consistency import consistency_check
from django_limpyd.database import RedisDatabase
from django_limpyd.durability import DurabilityError
from django_limpyd.model import RedisModel
from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.commands import assert_num_commands, count_commands

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def define(model_name: str, database: RedisDatabase, **attrs: Any) -> type:
    """A model class made at run time (its module set: no app registers it)."""
    attrs = {"database": database, "namespace": "aio-tx", "__module__": __name__, **attrs}
    return type(model_name, (RedisModel,), attrs)


@pytest.fixture
def models(db):
    Page = define(
        "Page",
        db,
        url=fields.StringField(indexable=True, unique=True),
        hits=fields.StringField(),
        log=fields.ListField(),
    )
    Other = define("Other", db, label=fields.StringField(indexable=True))
    assert db.connection.keyslot(Page._meta.keys.pks) != db.connection.keyslot(Other._meta.keys.pks)
    return Page, Other


def names(recorder: Any) -> list[list[str]]:
    return [[str(command[0]) for command in trip] for trip in recorder.round_trips]


def replica_of_slot(cluster: PrivateRedisCluster, slot: int) -> Any:
    master_id = cluster.node_id(cluster.master_of_slot(slot))
    for node in cluster.nodes:
        with cluster.node_client(node) as client:
            for line in client.execute_command("CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "myself" in parts[2] and parts[3] == master_id:
                    return node
    raise LookupError(slot)


def replica_count(cluster: PrivateRedisCluster, model: type) -> int:
    slot = model._meta.database.connection.keyslot(model._meta.keys.pks)
    with cluster.node_client(replica_of_slot(cluster, slot)) as client:
        client.execute_command("READONLY")
        return client.zcard(model._meta.keys.pks)


# -- WATCH transactions -------------------------------------------------------------


def test_a_watched_transaction_runs_on_the_node_of_the_slot_and_again_on_change(
    db, cluster, models
):
    Page, _Other = models
    page = Page(url="/", hits=0)
    calls = []
    node = cluster.master_of_slot(db.connection.keyslot(page.hits.key))

    async def do_incr(pipeline):
        previous = int(await page.hits.aget())
        if not calls:  # another client changes the watched key once
            await get_client(db).send_unobserved("INCR", page.hits.key)
        calls.append(previous)
        pipeline.multi()
        await page.hits.aset(previous + 1)
        await page.log.arpush(f"from {previous}")

    async def main():
        await Page.objects.acount()  # topology and libraries known
        with count_commands(db) as recorder:
            result = await db.atransaction(do_incr, page.hits)
        return result, recorder

    result, recorder = asyncio.run(main())
    assert result == [True, 1]
    assert calls == [0, 1]
    assert page.hits.get() == "2"
    assert page.log.lrange(0, -1) == ["from 1"]
    assert names(recorder) == [["WATCH"], ["GET"], ["MULTI", "FCALL", "FCALL", "EXEC"]] * 2
    with cluster.node_client(node) as client:  # where the slot lives
        assert client.get(page.hits.key) == "2"


def test_two_tasks_racing_on_a_watched_key(db, models):
    Page, _Other = models
    page = Page(url="/race", hits=0)
    runs = []

    async def body(pipeline):
        runs.append(1)
        previous = int(await page.hits.aget())
        await asyncio.sleep(0.01)  # let the other task read too
        pipeline.multi()
        await page.hits.aset(previous + 1)

    async def main():
        await asyncio.gather(*(db.atransaction(body, page.hits) for _ in range(10)))

    asyncio.run(main())
    assert page.hits.get() == "10"
    assert len(runs) > 10  # conflicts, run again
    assert consistency_check(Page) == []


CHANGER = """
import json, sys, redis
host, port = json.loads(sys.argv[1])
redis.RedisCluster(host=host, port=port).incrby(sys.argv[2], 100)
"""


def test_a_key_changed_by_another_process_writes_nothing(db, cluster, models):
    Page, _Other = models
    page = Page(url="/process", hits=1)
    seed = json.dumps(["127.0.0.1", cluster.ports[0]])

    async def main():
        with count_commands(db) as recorder:
            async with db.apipeline() as pipeline:
                await pipeline.watch(page.hits)
                previous = int(await page.hits.aget())
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", CHANGER, seed, page.hits.key
                )
                assert await process.wait() == 0
                pipeline.multi()
                await page.hits.aset(previous + 1)
                await page.log.arpush("written")
                await Page.acreate(url="/created")
                with pytest.raises(WatchError):
                    await pipeline.execute()
        return recorder

    recorder = asyncio.run(main())
    assert page.hits.get() == "101"
    assert page.log.lrange(0, -1) == []
    assert list(Page.collection(url="/created")) == []
    assert [trip[0][0] for trip in recorder.round_trips] == ["WATCH", "GET", "MULTI"]
    assert consistency_check(Page) == []


def test_watched_keys_of_two_slots_are_refused_before_anything_is_sent(db, models):
    Page, Other = models
    page, other = Page(url="/a", hits=0), Other(label="b")
    page_slot = db.connection.keyslot(page.hits.key)
    other_slot = db.connection.keyslot(other.label.key)

    async def body(pipeline):
        raise AssertionError("not run")

    async def main():
        await Page.objects.acount()
        with assert_num_commands(0, db), pytest.raises(CrossSlotBatchError) as raised:
            await db.atransaction(body, page.hits, other.label)
        return str(raised.value)

    message = asyncio.run(main())
    assert f"{page.hits.key!r} (slot {page_slot})" in message
    assert f"{other.label.key!r} (slot {other_slot})" in message
    assert "Nothing was sent" in message


def test_a_queued_command_of_another_slot_is_refused_before_exec(db, models):
    Page, Other = models
    page, other = Page(url="/a", hits=0), Other(label="b")

    async def body(pipeline):
        # sent at once: a read of another slot goes through the cluster client
        assert await other.label.aget() == "b"
        pipeline.multi()
        await page.hits.aset(1)
        await other.label.aset("changed")

    async def main():
        with (
            count_commands(db) as recorder,
            pytest.raises(CrossSlotBatchError, match="lives in slot"),
        ):
            await db.atransaction(body, page.hits)
        return recorder

    recorder = asyncio.run(main())
    assert names(recorder) == [["WATCH"], ["GET"]]  # no EXEC
    assert page.hits.get() == "0" and other.label.get() == "b"


# -- durable writes -------------------------------------------------------------------


def model_on_another_node(db: RedisDatabase, cluster: PrivateRedisCluster, model: type) -> type:
    """A model whose keys live on another master than those of ``model``."""
    master = cluster.master_of_slot(db.connection.keyslot(model._meta.keys.pks))
    for number in range(50):
        other = define(f"Far{number}", db, label=fields.StringField(indexable=True))
        if cluster.master_of_slot(db.connection.keyslot(other._meta.keys.pks)) is not master:
            return other
    raise LookupError("no model on another master")


def test_durable_writes_wait_on_the_connection_of_the_slot(db, cluster, models):
    Page, _Other = models
    Other = model_on_another_node(db, cluster, Page)

    async def main():
        await Page.acreate(url="/warm")
        await Other.acreate(label="warm")
        with db.durable(replicas=1, timeout=2):
            with count_commands(db) as single:
                page = await Page.acreate(url="/one")
            with count_commands(db) as batch:
                async with db.apipeline() as pipeline:  # a transaction: one slot
                    for number in range(3):
                        await Page.acreate(url=f"/t{number}")
                    assert len(await pipeline.execute()) == 3
            with count_commands(db) as spread:
                async with db.apipeline(transaction=False) as pipeline:  # two slots
                    await Page.acreate(url="/x")
                    await Other.acreate(label="y")
                    await pipeline.execute()
            with count_commands(db) as watched:

                async def body(pipeline):
                    await page.hits.aget()
                    pipeline.multi()
                    await page.hits.aset(5)

                await db.atransaction(body, page.hits)
        return single, batch, spread, watched

    single, batch, spread, watched = asyncio.run(main())
    assert names(single) == [["FCALL", "WAIT"]]  # one round trip, one connection
    assert names(batch) == [["MULTI", "FCALL", "FCALL", "FCALL", "EXEC", "WAIT"]]
    assert names(spread) == [["FCALL", "WAIT"], ["FCALL", "WAIT"]]  # per node
    assert names(watched) == [["WATCH"], ["GET"], ["MULTI", "FCALL", "EXEC", "WAIT"]]
    # no sleep: each WAIT returned once the replica of the slot had the writes
    assert replica_count(cluster, Page) == 6
    assert replica_count(cluster, Other) == 2
    assert consistency_check(Page) == [] and consistency_check(Other) == []


def test_a_durable_write_the_replica_does_not_ack_raises_applied_once(db, cluster, models):
    Page, _Other = models
    slot = db.connection.keyslot(Page._meta.keys.pks)
    replica = replica_of_slot(cluster, slot)

    async def main():
        page = await Page.acreate(url="/warm", hits=0)
        replica.pause()  # SIGSTOP: no acknowledgement comes
        try:
            with db.durable(replicas=1, timeout=0.2):
                with (
                    count_commands(db) as recorder,
                    pytest.raises(DurabilityError, match="applied on the primary"),
                ):
                    await Page.acreate(url="/late")
                with pytest.raises(DurabilityError, match=r"^FCALL was applied"):
                    await page.hits.aset(7)
                with pytest.raises(DurabilityError, match="a pipeline was applied"):
                    async with db.apipeline() as pipeline:
                        await Page.acreate(url="/piped")
                        await pipeline.execute()

                async def body(pipeline):
                    previous = int(await page.hits.aget())
                    pipeline.multi()
                    await page.hits.aset(previous + 1)

                with pytest.raises(DurabilityError, match="a transaction was applied"):
                    await db.atransaction(body, page.hits)
        finally:
            replica.resume()
        return recorder

    recorder = asyncio.run(main())
    assert names(recorder) == [["FCALL", "WAIT"]]  # sent once, never again
    # each applied exactly once on the primary
    assert [Page(pk).url.get() for pk in Page.collection(url="/late")] == ["/late"]
    assert len(list(Page.collection(url="/piped"))) == 1
    assert Page.collection().count() == 3
    (warm,) = Page.collection(url="/warm")
    assert Page(warm).hits.get() == "8"
    assert consistency_check(Page) == []
