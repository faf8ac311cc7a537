"""WATCH transactions on the async transport (``await database.atransaction(func,
*watches)``), the twin of ``database.transaction()``: run again while a watched key
changes (another asyncio task, another process), nothing half-applied, the same
commands and round trips as the sync path, a lost connection never run again."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError

from django_limpyd import fields
from django_limpyd.aio import get_client
from django_limpyd.consistency import consistency_check
from django_limpyd.durability import DurabilityError
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.tools.calls import wire

# on a cluster: tests/cluster/test_aio_cluster_transactions.py
pytestmark = [pytest.mark.standalone, pytest.mark.timeout(60)]


@pytest.fixture
def Page(database):
    class Page(RedisModel):
        namespace = "atransaction"
        url = fields.StringField(indexable=True, unique=True)
        hits = fields.StringField()
        log = fields.ListField()

    Page.use_database(database)
    database.load_scripts()
    return Page


def pool_is_idle(database):
    return not get_client(database).connection_pool._in_use_connections


def names(recorder):
    return [[str(command[0]) for command in trip] for trip in recorder.round_trips]


INCREMENT_TRIPS = wire([["WATCH"], ["GET"], ["MULTI", "FCALL", "FCALL", "EXEC"]])


def test_the_seed_example_retried_with_the_sync_commands(Page, database):
    page = Page(url="/", hits=0)
    calls = []
    outsider = redis.asyncio.Redis(**database.connection_settings)  # unobserved

    async def do_incr(pipeline):
        previous = int(await page.hits.aget())
        if not calls:  # another client changes the watched key once
            await outsider.incr(page.hits.key)
        calls.append(previous)
        pipeline.multi()
        assert await page.hits.aset(previous + 1) is pipeline  # queued
        assert await page.log.arpush(f"from {previous}") is pipeline

    async def main():
        try:
            with count_commands(database) as recorder:
                result = await database.atransaction(do_incr, page.hits)
        finally:
            await outsider.aclose()
        return result, recorder

    result, recorder = asyncio.run(main())
    assert result == [True, 1]
    assert calls == [0, 1]
    assert page.hits.get() == "2"
    assert page.log.lrange(0, -1) == ["from 1"]  # the first run wrote nothing
    # two runs, each: WATCH, the read, MULTI ... EXEC (no UNWATCH: EXEC ended the watch)
    assert names(recorder) == INCREMENT_TRIPS * 2

    # the sync transaction sends the same commands, in the same round trips
    def sync_incr(pipeline):
        previous = int(page.hits.get())
        pipeline.multi()
        page.hits.set(previous + 1)
        page.log.rpush(f"from {previous}")

    with count_commands(database) as sync_recorder:
        assert database.transaction(sync_incr, page.hits) == [True, 2]
    assert names(sync_recorder) == INCREMENT_TRIPS


def test_two_tasks_racing_on_a_watched_key_both_apply_once_each(Page, database):
    page = Page(url="/race", hits=0)
    runs = {"a": 0, "b": 0}
    both_read = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None

    def incrementer(name):
        async def body(pipeline):
            runs[name] += 1
            previous = int(await page.hits.aget())
            if runs[name] == 1 and both_read is not None:
                await both_read.wait()  # both read 0: one EXEC must fail
            else:
                await asyncio.sleep(0)
            pipeline.multi()
            await page.hits.aset(previous + 1)
            await page.log.arpush(f"{name}:{previous}")

        return body

    async def main():
        with count_commands(database) as recorder:
            await asyncio.gather(
                database.atransaction(incrementer("a"), page.hits),
                database.atransaction(incrementer("b"), page.hits),
            )
        return recorder

    recorder = asyncio.run(main())
    assert page.hits.get() == "2"
    assert sorted(page.log.lrange(0, -1)) in (["a:0", "b:1"], ["a:1", "b:0"])
    assert sorted(runs.values()) == [1, 2]  # the loser ran again, once
    # 3 runs of WATCH, GET, MULTI/EXEC: 3 x 6 commands in 3 x 3 round trips
    assert recorder.num_commands == 18 and recorder.num_round_trips == 9
    assert consistency_check(Page) == []


def test_many_tasks_incrementing_a_watched_counter_lose_nothing(Page, database):
    page = Page(url="/many", hits=0)
    runs = []

    async def body(pipeline):
        runs.append(1)
        previous = int(await page.hits.aget())
        await asyncio.sleep(0)  # let the others read too
        pipeline.multi()
        await page.hits.aset(previous + 1)

    async def main():
        await asyncio.gather(*(database.atransaction(body, page.hits) for _ in range(20)))

    asyncio.run(main())
    assert page.hits.get() == "20"
    assert len(runs) > 20  # conflicts happened, and were run again


CHANGER = """
import json, sys, redis
kwargs = json.loads(sys.argv[1])
redis.Redis(**kwargs).incrby(sys.argv[2], 100)
"""


def test_a_key_changed_by_another_process_makes_execute_raise_and_write_nothing(
    Page, database, redis_server
):
    page = Page(url="/process", hits=1)
    kwargs = json.dumps(redis_server.connection_kwargs())

    async def change_in_another_process():
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHANGER, kwargs, page.hits.key
        )
        assert await process.wait() == 0

    async def main():
        with count_commands(database) as recorder:
            async with database.apipeline() as pipeline:
                await pipeline.watch(page.hits)
                previous = int(await page.hits.aget())
                await change_in_another_process()
                pipeline.multi()
                await page.hits.aset(previous + 1)
                await page.log.arpush("written")
                await Page.acreate(url="/created")
                with pytest.raises(WatchError):
                    await pipeline.execute()
        return recorder

    recorder = asyncio.run(main())
    assert page.hits.get() == "101"  # the other process's change only
    assert page.log.lrange(0, -1) == []  # nothing of the transaction half-applied
    assert list(Page.collection(url="/created")) == []
    assert [trip[0][0] for trip in recorder.round_trips] == ["WATCH", "GET", "MULTI"]
    assert consistency_check(Page) == []

    # atransaction() runs the function again: the second run goes through
    runs = []

    async def body(pipeline):
        runs.append(int(await page.hits.aget()))
        if len(runs) == 1:
            await change_in_another_process()
        pipeline.multi()
        await page.hits.aset(runs[-1] + 1)

    assert asyncio.run(database.atransaction(body, page.hits)) == [True]
    assert runs == [101, 201]
    assert page.hits.get() == "202"


def test_commands_before_multi_are_sent_at_once_on_the_watching_connection(Page, database):
    page = Page(url="/fence", hits=5)
    fence = "atransaction:fence"

    async def revoked(pipeline):
        # the fence of sharding/unique.py: a raw command sent at once
        if await pipeline.connection.exists(fence):
            raise UniquenessError("revoked")
        pipeline.multi()
        await page.hits.aset(0)

    async def main():
        client = get_client(database)
        await client.set(fence, "1")
        # WATCH, EXISTS; then UNWATCH, unseen by the observers as on the sync path
        with (
            assert_num_commands(2, database, round_trips=2) as recorder,
            pytest.raises(UniquenessError, match="revoked"),
        ):
            await database.atransaction(revoked, page.hits, fence)
        assert [c[0] for c in recorder.commands] == ["WATCH", "EXISTS"]
        assert pool_is_idle(database)
        await client.delete(fence)
        return await database.atransaction(revoked, page.hits, fence)

    assert asyncio.run(main()) == [True]
    assert page.hits.get() == "0"


def test_writes_creates_and_deletes_before_and_after_multi(Page, database):
    first = Page(url="/a", hits=1)
    second = Page(url="/b", hits=2)

    async def body(pipeline):
        # before multi(): sent at once, their results returned
        assert await second.hits.aset(10) is True
        early = await Page.acreate(url="/early")
        assert early.pk.get() is not None
        with pytest.raises(UniquenessError):  # refused at once, nothing written
            await Page.acreate(url="/a")
        pipeline.multi()
        assert await second.adelete() is pipeline
        await Page.acreate(url="/late")
        await pipeline.connection.set("atransaction:raw", "x")

    async def main():
        with count_commands(database) as recorder:
            results = await database.atransaction(body, first.hits)
        return results, recorder

    results, recorder = asyncio.run(main())
    assert results[0] is True and results[2] is True
    assert names(recorder) == wire([
        ["WATCH"], ["FCALL"], ["FCALL"], ["FCALL"], ["MULTI", "FCALL", "FCALL", "SET", "EXEC"]
    ])  # fmt: skip
    assert sorted(Page(pk).url.get() for pk in Page.collection()) == ["/a", "/early", "/late"]
    assert second.hits.get() is None
    assert consistency_check(Page) == []


def test_own_write_of_a_watched_key_before_multi_runs_the_function_again(Page, database):
    page = Page(url="/own", hits=0)
    runs = []

    async def body(pipeline):
        runs.append(1)
        if len(runs) == 1:
            await page.hits.aset(100)  # before multi(): touches the watched key
        pipeline.multi()
        await page.log.arpush("done")

    asyncio.run(database.atransaction(body, page.hits))
    assert len(runs) == 2
    assert page.log.lrange(0, -1) == ["done"]


def test_refusals(Page, database):
    page = Page(url="/r", hits=0)

    async def main():
        with pytest.raises(ImplementationError, match="share_in_threads"):
            await database.atransaction(lambda pipeline: None, share_in_threads=True)
        async with database.apipeline() as pipeline:
            await pipeline.watch(page.hits)
            with pytest.raises(ImplementationError, match=r"call pipeline.multi\(\) first"):
                await Page.abulk_create([{"url": "/x"}, {"url": "/y"}])
            pipeline.multi()
            with pytest.raises(RedisError, match="WATCH after a MULTI"):
                await pipeline.watch(page.hits)
            with pytest.raises(RedisError, match="nested"):
                pipeline.multi()
        async with database.apipeline(transaction=False) as pipeline:
            with pytest.raises(ImplementationError, match="in a transaction"):
                await pipeline.watch(page.hits)
        return await Page.objects.acount()

    assert asyncio.run(main()) == 1


def test_a_plain_function_and_no_watched_key(Page, database):
    page = Page(url="/plain", hits=3)

    async def main():
        # no watch: nothing held, MULTI/EXEC of the queued commands only
        def queue_nothing(pipeline):
            pipeline.multi()

        assert await database.atransaction(queue_nothing) == []
        with assert_num_commands(3, database, round_trips=2):  # WATCH, MULTI EXEC
            assert await database.atransaction(queue_nothing, page.hits) == []

    asyncio.run(main())


def test_a_connection_lost_at_exec_is_raised_and_never_run_again(Page, database, redis_server):
    """EXEC sent, the connection killed before its reply is read: ``ConnectionError``
    (the outcome is unknown), not a ``WatchError``: the function is not run again."""
    page = Page(url="/lost", hits=0)
    runs = []
    admin = redis_server.client()

    async def body(pipeline):
        runs.append(1)
        previous = int(await page.hits.aget())
        me = await pipeline.connection.execute_command("CLIENT", "ID")
        admin.client_kill_filter(_id=me)  # the server closes the watching connection
        pipeline.multi()
        await page.hits.aset(previous + 1)

    async def main():
        with pytest.raises(RedisConnectionError):
            await database.atransaction(body, page.hits)
        # the pool is usable afterwards
        return await page.hits.aget()

    try:
        assert asyncio.run(main()) == "0"
    finally:
        admin.close()
    assert runs == [1]


def test_a_cancelled_transaction_releases_its_connection(Page, database):
    page = Page(url="/cancel", hits=0)
    inside = asyncio.Event()

    async def body(pipeline):
        await page.hits.aget()
        inside.set()
        await asyncio.sleep(10)

    async def main():
        task = asyncio.create_task(database.atransaction(body, page.hits))
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool_is_idle(database)
        # the connection went back without its watch: a transaction on it goes through
        return await database.atransaction(lambda pipeline: pipeline.multi(), page.hits)

    assert asyncio.run(main()) == []


def test_a_durable_transaction_waits_after_exec_on_its_connection(Page, database):
    """The suite's server has no replica: ``WAIT 1`` gets no acknowledgement; the
    transaction is applied once, and raises DurabilityError."""
    page = Page(url="/durable", hits=0)

    async def body(pipeline):
        previous = int(await page.hits.aget())
        pipeline.multi()
        await page.hits.aset(previous + 1)

    async def main():
        with (
            database.durable(replicas=1, timeout=0.05),
            count_commands(database) as recorder,
            pytest.raises(DurabilityError, match="a transaction was applied"),
        ):
            await database.atransaction(body, page.hits)
        return recorder

    recorder = asyncio.run(main())
    assert names(recorder) == wire([["WATCH"], ["GET"], ["MULTI", "FCALL", "EXEC", "WAIT"]])
    assert page.hits.get() == "1"  # applied, once
