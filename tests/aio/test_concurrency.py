"""The concurrency suite's invariants, with asyncio tasks racing on one event loop (and
several loops in threads): one winner per unique value, exact indexes, no resurrection."""

import asyncio
import random
import threading

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel


def first_letter(value):
    return value[:1] or None


FirstLetterIndex = EqualIndex.configure(transform=first_letter, name="FirstLetterIndex")


@pytest.fixture
def models(database):
    class Unique(RedisModel):
        namespace = "aio-race"
        code = fields.StringField(unique=True)
        label = fields.InstanceHashField(unique=True)

    class Busy(RedisModel):
        namespace = "aio-race"
        color = fields.InstanceHashField(indexable=True)
        score = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        code = fields.StringField(unique=True)
        hits = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
        tags = fields.SetField(indexable=True)
        items = fields.ListField(indexable=True)
        initial = fields.InstanceHashField(indexable=True, indexes=[FirstLetterIndex])

    for model in (Unique, Busy):
        model.use_database(database)
    database.load_scripts()
    return Unique, Busy


@pytest.mark.parametrize("field", ["code", "label"])
def test_one_winner_per_unique_value(models, field):
    Unique, _Busy = models

    async def main():
        return await asyncio.gather(
            *(Unique.acreate(**{field: "same"}) for _ in range(50)), return_exceptions=True
        )

    results = asyncio.run(main())
    winners = [result for result in results if isinstance(result, Unique)]
    losers = [result for result in results if isinstance(result, UniquenessError)]
    assert len(winners) == 1 and len(losers) == 49
    assert Unique.collection().count() == 1
    assert consistency_check(Unique) == []


def test_autopk_creates_racing_on_four_loops(models):
    Unique, _Busy = models
    created = []

    async def main(worker):
        instances = await asyncio.gather(*(Unique.acreate(code=f"{worker}-{n}") for n in range(50)))
        created.extend(instance.pk.get() for instance in instances)

    threads = [threading.Thread(target=asyncio.run, args=(main(w),)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created, key=int) == [str(n) for n in range(1, 201)]
    assert consistency_check(Unique) == []


COLORS = ("red", "green", "blue")
CODES = tuple(f"c{n}" for n in range(12))


def test_concurrent_indexed_updates_and_deletes_keep_indexes_exact(models):
    _Unique, Busy = models
    conflicts = []

    async def writer(instances, seed):
        rng = random.Random(seed)
        for _ in range(60):
            instance = rng.choice(instances)
            choice = rng.randrange(7)
            try:
                if choice == 0:
                    await instance.color.ahset(rng.choice(COLORS))
                elif choice == 1:
                    await instance.score.ahincrby(rng.randint(-3, 3))
                elif choice == 2:
                    await instance.code.aset(rng.choice(CODES))
                elif choice == 3:
                    await instance.hits.aincr()
                elif choice == 4:
                    await instance.tags.asadd(f"t{rng.randrange(4)}")
                    await instance.tags.asrem(f"t{rng.randrange(4)}")
                elif choice == 5:
                    await instance.items.arpush(f"i{rng.randrange(3)}")
                else:
                    await instance.initial.ahset(rng.choice(["apple", "avocado", "banana"]))
            except UniquenessError:
                conflicts.append(1)
            except Busy.DoesNotExist:
                pass  # deleted meanwhile: nothing written

    async def deleter(instances):
        for instance in instances:
            await asyncio.sleep(0)
            assert await instance.adelete() is True

    async def main():
        instances = [await Busy.acreate(code=f"start{n}", hits=0, score=0) for n in range(12)]
        doomed = instances[::3]
        await asyncio.gather(*(writer(instances, seed) for seed in range(8)), deleter(doomed))
        return instances, doomed

    instances, doomed = asyncio.run(main())
    assert consistency_check(Busy) == []
    alive = {instance.pk.get() for instance in instances} - {d.pk.get() for d in doomed}
    assert set(Busy.collection()) == alive
    for instance in doomed:  # never resurrected: no key of a deleted instance is left
        assert list(Busy.lazy_connect(instance.pk.get()).scan_keys()) == []
    codes = [Busy(pk).code.get() for pk in alive]
    assert len(set(codes)) == len(codes)
    assert conflicts  # the random codes did collide
