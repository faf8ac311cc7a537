"""Changing the number of shards of a model online (``resharding_from`` and
``limpyd_reshard``, django_limpyd/sharding/reshard.py): what the application sees
before, during and after the move, on one server."""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, Redirected, UniquenessError
from django_limpyd.sharding import moves, unique
from django_limpyd.test.commands import assert_num_commands
from tests.sharding import reshard_models
from tests.sharding.reshard_models import fill_orders, order_model, plain_model


@pytest.fixture
def server(redis_server):
    reshard_models.DATABASE.connect(**reshard_models.connection_kwargs(redis_server))
    yield redis_server
    reshard_models.DATABASE.close()


def _all_consistent(model):
    problems = [p for shard in model._meta.stored_models for p in consistency_check(shard)]
    return problems + unique.reservation_problems(model)


def test_reads_and_writes_are_the_same_before_during_and_after_the_move(server):
    Before = order_model(4)
    made = fill_orders(Before, 40)
    During = order_model(6, resharding_from=4)
    assert During._meta.previous_shard_models[0]._meta.label == (
        "reshard.Order[shard 0 of 4, before resharding]"
    )

    def check(model, expected):
        assert len(model.collection()) == len(expected)
        assert len(model.collection(kind="a")) == sum(1 for n in expected.values() if n % 2 == 0)
        assert set(model.collection()) == set(expected)
        ordered = sorted(expected, key=lambda pk: expected[pk])
        assert list(model.collection().sort(by="score")[2:7]) == ordered[2:7]
        assert (
            list(model.collection(tags="t1").sort(by="-score")[:3])
            == [pk for pk in reversed(ordered) if expected[pk] % 3 == 1][:3]
        )
        for pk, number in list(expected.items())[::7]:
            assert model(pk).score.get() == str(number)
            code = f"c{number}" if number < 100 else f"new{number - 99}"
            assert model.get(code=code).pk.get() == pk
            assert model.lazy_connect(pk).kind.hget() == "ab"[number % 2]

    check(During, made)
    # until the command runs, everything happens in the old layout, as before
    created = During(code="new1", kind="a", score="100", tags={"t1"})
    assert type(created)._meta.layout == "old"
    made[created.pk.get()] = 100
    During(created.pk.get()).score.set("100")
    with pytest.raises(UniquenessError):
        During(code="c3")

    top = moves.close_old_layout(During)
    assert top == max(int(pk) for pk in made)
    assert moves.move_reservations(During) == 41
    # creates now go to the new layout, with pks past every old one; values are still
    # unique across both layouts
    later = During(code="new2", kind="b", score="101", tags={"t2"})
    assert type(later)._meta.layout == "new" and int(later.pk.get()) > top
    made[later.pk.get()] = 101
    with pytest.raises(UniquenessError):
        During(code="c5")
    check(During, made)

    # half moved: every read still sees each instance once
    old_shards = During._meta.previous_shard_models
    moves.move_batch(During, old_shards[0], 100)
    moves.move_batch(During, old_shards[1], 3)
    check(During, made)
    stale = During(next(pk for pk, _n in made.items() if int(pk) % 4 == 3))
    assert type(stale)._meta.layout == "old"
    left = moves.left_in_old_layout(During)
    assert left[old_shards[0]] == 0 and sum(left.values()) == 41 - 3 - len(
        [pk for pk in made if int(pk) % 4 == 1 and int(pk) <= top]
    )
    assert moves.run(During, batch=4)["moved"] == sum(left.values())
    # an instance object of the old layout follows its instance on its next write
    stale.hits.set("5")
    assert type(stale)._meta.layout == "new"
    assert During(stale.pk.get()).hits.get() == "5"
    check(During, made)
    assert sum(moves.left_in_old_layout(During).values()) == 0
    assert _all_consistent(During) == []

    After = order_model(6)
    made[After(code="new3", kind="a", score="102", tags={"t0"}).pk.get()] = 102
    check(After, made)
    assert _all_consistent(After) == []
    assert len(set(made)) == len(made) == 43


def test_a_move_keeps_every_value_and_deadline(server):
    Before = order_model(2, ttl=None, expirable=True)
    first = Before(code="x", kind="a", score="1.5", hits="7", tags={"p", "q"})
    first.expire(100)
    Before(code="y", kind="b", score="2")
    During = order_model(3, resharding_from=2, expirable=True)
    moves.run(During, batch=10)
    moved = During(first.pk.get())
    assert type(moved)._meta.layout == "new"
    assert moved.hmget("code", "kind") == ["x", "a"]
    assert (moved.score.get(), moved.hits.get(), moved.tags.smembers()) == (
        "1.5",
        "7",
        {"p", "q"},
    )
    assert 95_000 < moved.pttl() <= 100_000
    assert During.collection(kind="b")[0] != first.pk.get()
    assert _all_consistent(During) == []


def test_a_model_that_was_not_sharded_is_sharded_online(server):
    Before = plain_model(None)
    for number in range(30):
        Before(name=f"item-{number}", kind="ab"[number % 2], rank=str(number))
    During = plain_model(4, resharding_from=1)
    assert During._meta.previous_shard_models[0]._meta.keys.prefix == Before._meta.keys.prefix
    assert len(During.collection(kind="a")) == 15
    During(name="late", kind="a", rank="99")  # before the command: the old layout
    with pytest.raises(UniquenessError):
        During(name="item-3", kind="b")
    moves.close_old_layout(During)
    with pytest.raises(UniquenessError, match="item-4"):  # still in the old layout
        During(name="item-4", kind="b")
    During(name="later", kind="b", rank="100")
    assert moves.run(During, batch=7)["moved"] == 31
    After = plain_model(4)
    assert len(After.collection()) == 32
    assert list(After.collection(kind="a").sort(by="-rank")[:2]) == ["late", "item-28"]
    assert not Before.collection()  # the unsharded keys are empty
    assert all(consistency_check(shard) == [] for shard in After._meta.shard_models)


def test_a_write_waits_for_the_move_of_its_instance_then_follows_it(server, monkeypatch):
    Before = order_model(2)
    made = fill_orders(Before, 6)
    During = order_model(3, resharding_from=2)
    moves.close_old_layout(During)
    pk = next(iter(made))
    instance = During(pk)
    old = type(instance)
    old._meta.database.connection.hset(old._meta.keys.moves, pk, "moving")  # the fence
    with pytest.raises(Redirected, match="being moved"), During.database.pipeline() as pipe:
        instance.hits.set("1")
        pipe.execute()
    from django_limpyd.sharding import reshard

    monkeypatch.setattr(reshard, "WAIT", 0.3)
    with pytest.raises(ImplementationError, match="run it again"):
        instance.hits.set("2")
    assert instance.hits.get() is None  # nothing was written
    old._meta.database.connection.hdel(old._meta.keys.moves, pk)
    moves.run(During)
    assert instance.hits.set("3") and type(instance)._meta.layout == "new"
    assert During(pk).hits.get() == "3"


def test_a_count_during_the_move_costs_two_round_trips(server):
    Before = order_model(2)
    fill_orders(Before, 10)
    During = order_model(3, resharding_from=2)
    moves.close_old_layout(During)
    # the old shards (their moves and counts in one transaction), then the new shards
    with assert_num_commands(9, reshard_models.DATABASE, round_trips=2):
        assert len(During.collection(kind="a")) == 5


def test_a_bad_declaration_is_refused():
    with pytest.raises(ImplementationError, match="resharding_from needs shards"):
        order_model(None, resharding_from=2)
    with pytest.raises(ImplementationError, match="nothing to reshard"):
        order_model(3, resharding_from=3)
    with pytest.raises(ImplementationError, match="number of shards the model had"):
        order_model(3, resharding_from=0)
    with pytest.raises(ImplementationError, match="not supported for unique fields"):
        order_model(3, resharding_from=1)


def _start(target, *args):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    process = context.Process(target=target, args=args)
    process.start()
    return process


def test_the_application_keeps_writing_and_reading_exactly_while_instances_move(server):
    import multiprocessing
    import time

    from tests.sharding import reshard_workers

    Before = order_model(4)
    count = 800
    made = fill_orders(Before, count)
    kind_a = sorted(pk for pk, number in made.items() if number % 2 == 0)
    page = sorted(kind_a, key=lambda pk: made[pk])[5:15]
    During = order_model(6, resharding_from=4)
    params = reshard_models.connection_kwargs(server)
    context = multiprocessing.get_context("spawn")
    results, stop = context.Queue(), context.Event()
    workers = [
        _start(reshard_workers.count_hits, params, 1, count, stop, results),
        _start(reshard_workers.count_hits, params, 2, count, stop, results),
        _start(reshard_workers.swap_codes, params, 3, count, stop, results),
        _start(reshard_workers.create, params, 4, stop, results),
        _start(reshard_workers.read, params, kind_a, page, stop, results),
    ]
    time.sleep(2)  # the workers run with the old layout for a while
    started = time.time()
    done = moves.run(During, batch=40)
    took = time.time() - started
    time.sleep(1)  # and with the new one
    stop.set()
    reports = {}
    for _worker in workers:
        report = results.get(timeout=60)
        if report[0] == "error":
            pytest.fail(f"a worker failed:\n{report[1]}")
        reports.setdefault(report[0], []).append(report[1:])
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    After = order_model(6)
    # every acknowledged increment is there, none twice
    hits: dict[str, int] = {}
    for (done_hits,) in reports["hits"]:
        for pk, number in done_hits.items():
            hits[pk] = hits.get(pk, 0) + number
    stored = {pk: int(After(pk).hits.get() or 0) for pk in made}
    assert stored == {pk: hits.get(pk, 0) for pk in made}
    # each code given last is held by its instance, once
    ((given, refused),) = reports["codes"]
    for pk, code in given.items():
        assert After(pk).code.hget() == code
        assert list(After.collection(code=code)) == [pk]
    ((created,),) = reports["created"]
    assert len(created) == len(set(created)) and not set(created) & set(made)
    assert len(After.collection()) == count + len(created)
    assert len(After.collection(kind="z")) == len(created)
    ((reads, wrong),) = reports["read"]
    assert wrong == [] and reads > 10
    assert done["moved"] >= count and _all_consistent(After) == []
    print(
        f"reshard 4 -> 6 under load: moved={done['moved']} in {took:.2f}s, increments="
        f"{sum(hits.values())}, codes given={len(given)} refused={refused}, "
        f"created={len(created)}, exact reads={reads}, wrong reads={len(wrong)}"
    )


@pytest.mark.parametrize("step", ["after_fence", "after_copy"])
def test_a_command_killed_between_two_steps_is_resumed(server, step, monkeypatch):
    from tests.sharding import reshard_workers

    Before = order_model(4)
    made = fill_orders(Before, 60)
    During = order_model(6, resharding_from=4)
    process = _start(reshard_workers.reshard, reshard_models.connection_kwargs(server), 10, step)
    process.join(timeout=60)
    assert process.exitcode == -9  # SIGKILLed there
    # the fenced batch is still read (once), and exactly
    assert len(During.collection()) == len(made)
    assert set(During.collection(kind="b")) == {pk for pk, n in made.items() if n % 2}
    fenced = [
        pk
        for shard in During._meta.previous_shard_models
        for pk in shard._meta.database.connection.hkeys(shard._meta.keys.moves)
        if pk
    ]
    assert len(fenced) == 4 * 10  # a batch of each old shard
    from django_limpyd.sharding import reshard

    monkeypatch.setattr(reshard, "WAIT", 0.2)
    with pytest.raises(ImplementationError, match="run it again"):
        During(fenced[0]).hits.set("1")
    done = moves.run(During, batch=10)
    assert done["moved"] == len(made) - (10 if step == "after_copy" else 0) or done["moved"] == len(
        made
    )
    After = order_model(6)
    assert len(After.collection()) == len(made)
    for pk, number in made.items():
        assert After(pk).score.get() == str(number)
    After(fenced[0]).hits.set("1")
    assert _all_consistent(After) == []


def test_forgetting_an_old_layout_refuses_one_that_still_holds_instances(server):
    Before = order_model(2)
    fill_orders(Before, 5)
    Later = order_model(3)  # deployed without running the command: the data is in 2
    with pytest.raises(ImplementationError, match="still holds 5 instances; nothing"):
        moves.forget_layout(Later, 2)
    assert len(order_model(3, resharding_from=2).collection()) == 5
