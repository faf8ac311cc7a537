"""Signals from the async API (sync receivers through sync_to_async, async receivers
awaited, as Django's Signal.asend) and the post_command hook with the real reply."""

import asyncio
import threading

import pytest

from django_limpyd import fields, signals
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMES = ("pre_save", "post_save", "pre_delete", "post_delete")


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "aio-signals"
        name = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)

    Person.use_database(database)
    return Person


def test_sync_and_async_receivers(Person):
    events = []
    by_signal = {getattr(signals, name): name for name in NAMES}
    loop_thread = []

    def receiver(sender, signal, instance, **kwargs):
        events.append(("sync", by_signal[signal], instance.pk.get(), kwargs.get("created")))
        assert threading.get_ident() != loop_thread[0]  # not in the event loop's thread

    async def areceiver(sender, signal, instance, **kwargs):
        events.append(("async", by_signal[signal], instance.pk.get(), kwargs.get("created")))

    for name in NAMES:
        getattr(signals, name).connect(receiver, sender=Person)
        getattr(signals, name).connect(areceiver, sender=Person)

    async def main():
        loop_thread.append(threading.get_ident())
        ann = await Person.acreate(name="Ann")
        await ann.city.ahset("Paris")
        await ann.adelete()
        await Person.acreate(name="Bob")
        with pytest.raises(Exception, match="already exists"):
            await Person.acreate(name="Bob")

    try:
        asyncio.run(main())
    finally:
        for name in NAMES:
            getattr(signals, name).disconnect(receiver, sender=Person)
            getattr(signals, name).disconnect(areceiver, sender=Person)
    expected = [
        ("pre_save", None, True),
        ("post_save", "1", True),
        ("pre_save", "1", False),
        ("post_save", "1", False),
        ("pre_delete", "1", None),
        ("post_delete", "1", None),
        ("pre_save", None, True),
        ("post_save", "2", True),
        ("pre_save", None, True),  # the failed create: no post_save
    ]
    assert [event[1:] for event in events if event[0] == "sync"] == expected
    assert [event[1:] for event in events if event[0] == "async"] == expected


def test_no_listener_no_signal_work(Person):
    async def main():
        with assert_num_commands(1, Person):
            await Person.acreate(name="Ann")

    asyncio.run(main())


def test_post_command_hook_gets_the_reply(database):
    calls = []

    class Hooked(RedisModel):
        namespace = "aio-signals"
        name = fields.InstanceHashField()
        tags = fields.SetField()

        def post_command(self, sender, name, result, args, kwargs):
            calls.append((name, result))
            if name == "hget":
                return result.upper()
            return result

    Hooked.use_database(database)

    async def main():
        ann = await Hooked.acreate(name="ann")
        added = await ann.tags.asadd("a")
        return added, await ann.name.ahget(), await ann.tags.aproxy_get()

    assert asyncio.run(main()) == (1, "ANN", {"a"})
    assert calls == [("sadd", 1), ("hget", "ann"), ("proxy_get", {"a"})]


def test_post_command_hook_in_async_pipelines_and_transactions(database):
    """As in a sync pipeline, the hook of a queued command gets the pipeline (the reply
    comes with ``execute()``); a command sent at once between ``watch()`` and
    ``multi()`` gives it its reply; the instance hash commands (``ahmget``...) call it
    with the reply too. The commands are counted as without the hook."""
    from django_limpyd.test.commands import assert_num_commands

    calls = []

    class Hooked(RedisModel):
        namespace = "aio-signals"
        name = fields.InstanceHashField()
        tags = fields.SetField()

        def post_command(self, sender, name, result, args, kwargs):
            calls.append((name, result))
            return result

    Hooked.use_database(database)

    async def main():
        ann = await Hooked.acreate(name="ann")
        calls.clear()
        with assert_num_commands(4, database, round_trips=1):
            async with database.apipeline() as pipeline:
                assert await ann.tags.asadd("a") is pipeline
                assert await ann.name.ahget() is pipeline
                results = await pipeline.execute()
        assert calls == [("sadd", pipeline), ("hget", pipeline)]
        calls.clear()
        assert await ann.ahmget("name") == ["ann"]
        assert calls == [("hmget", ["ann"])]
        calls.clear()

        async def body(pipeline):
            await ann.name.ahget()  # sent at once
            pipeline.multi()
            await ann.tags.asadd("b")  # queued

        with assert_num_commands(5, database, round_trips=3):  # WATCH, HGET, MULTI FCALL EXEC
            assert await database.atransaction(body, ann.tags) == [1]
        assert calls[0] == ("hget", "ann") and calls[1][0] == "sadd"
        return results

    assert asyncio.run(main()) == [1, "ann"]
