"""The server SIGKILLed in the middle of creates, updates and deletes, then restarted
from its AOF (``appendfsync always``).

Three writer processes create, update (unique fields, equality and range
indexes, a set, two hash fields at once), transfer balances inside MULTI/EXEC
and delete (a WATCH/MULTI/EXEC ``transaction()``) instances of their own, as
fast as they can, until the server dies under them at a random moment. After
each restart the data must be exactly what was acknowledged (plus, possibly,
the one operation per writer whose reply was lost), every instance whole,
every index entry matching its instance, every unique value held by exactly
one instance.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.test.server import PrivateRedisServer
from tests.reliability.helpers import summary
from tests.reliability.models import DATABASE, Item
from tests.reliability.workers import WorkerPool, sleep_until

pytestmark = pytest.mark.slow

ROUNDS = 4
WRITERS = 3
#: a writer stops by itself after this long if the server was not killed
MAX_ROUND_SECONDS = 10.0
#: the kill comes this long (random, seconds) after the writers started
KILL_DELAYS = (0.15, 0.8)
HASH_FIELDS = ("owner", "name", "color", "shade")
STRING_FIELDS = ("code", "size", "balance")


def read_items() -> dict[str, dict[str, Any]]:
    """Every Item in the model's set of pks, read from its keys (not from indexes)."""
    keys = Item._meta.keys
    connection = DATABASE.connection
    pks = sorted(connection.zrange(keys.pks, 0, -1), key=int)
    pipe = connection.pipeline(transaction=False)
    for pk in pks:
        pipe.hgetall(keys.instance_hash(pk))
        for name in STRING_FIELDS:
            pipe.get(keys.field(name, pk))
        pipe.smembers(keys.field("tags", pk))
    replies = iter(pipe.execute())
    items = {}
    for pk in pks:
        item: dict[str, Any] = dict(next(replies))
        for name in STRING_FIELDS:
            item[name] = next(replies)
        item["tags"] = next(replies)
        items[pk] = item
    return items


def check_unique_index(field_name: str, items: dict[str, dict[str, Any]]) -> None:
    """Every value of the unique field is held, in its index, by its instance alone;
    no index key holds anybody else (nobody, or two)."""
    index = Item.get_field(field_name).indexes[0]
    connection = DATABASE.connection
    expected = {item[field_name]: pk for pk, item in items.items()}
    assert len(expected) == len(items), f"{field_name}: a value held by two instances"
    seen = {}
    for key in connection.scan_iter(match=Item._meta.keys.pattern_after(index.storage_base)):
        seen[key[len(index.storage_base) :]] = connection.smembers(key)
    assert seen == {value: {pk} for value, pk in expected.items()}


def check_round(results: list[dict[str, Any]], state: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Check the restarted server against what the writers know; update ``state``."""
    assert consistency_check(Item) == []
    items = read_items()
    max_pk = int(DATABASE.connection.get(Item._meta.keys.max_pk) or 0)
    by_owner: dict[str, dict[str, str]] = {owner: {} for owner in state}
    for pk, item in items.items():
        # no pk without its data, no half-written create
        missing = [name for name in (*HASH_FIELDS, *STRING_FIELDS) if item.get(name) is None]
        assert not missing, f"Item {pk} lacks {missing}: {item}"
        assert set(item) - set(HASH_FIELDS) == {*STRING_FIELDS, "tags"}, item
        # hmset(color, shade) is one write: never half applied
        assert item["shade"] == item["color"].upper(), item
        assert item["code"].startswith(item["name"] + ":c"), item
        assert int(pk) <= max_pk  # the AutoPK counter survived with its instances
        by_owner[item["owner"]][item["name"]] = pk
    check_unique_index("name", items)
    check_unique_index("code", items)

    outcomes = {"applied": 0, "not_applied": 0, "none": 0}
    for (owner, known), result in zip(state.items(), results, strict=True):
        names = set(by_owner[owner])
        alive = known["names"] if result["alive"] is None else set(result["alive"])
        in_flight = result["in_flight"]
        created = known["created"] + result["created"]
        if in_flight is None:
            assert names == alive, (owner, names ^ alive)
            outcomes["none"] += 1
        else:
            op, name = in_flight
            if op == "create":
                assert names in (alive, alive | {name}), (owner, in_flight, names ^ alive)
                applied = name in names
                created += applied
            elif op == "delete":
                assert names in (alive, alive - {name}), (owner, in_flight, names ^ alive)
                applied = name not in names
            else:
                assert names == alive, (owner, in_flight, names ^ alive)
                applied = None  # not observable by name
            if applied is not None:
                outcomes["applied" if applied else "not_applied"] += 1
        # creates bring 100 each; transfers and deletes (to an heir) move balance
        # inside one MULTI/EXEC: a half-applied one would change the total
        total = sum(int(items[pk]["balance"]) for pk in by_owner[owner].values())
        assert total == 100 * created, (owner, total, created)
        known.update(names=names, created=created, last_n=result["last_n"])
    return outcomes


@pytest.mark.timeout(150)
def test_sigkill_during_writes_then_restart_from_aof(tmp_path, workers: WorkerPool):
    started = time.perf_counter()
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    server = PrivateRedisServer(tmp_path / "aof", persistence="aof").start()
    kwargs = {**server.connection_kwargs(), "socket_timeout": 5}
    state = {f"w{i}": {"names": set(), "created": 0, "last_n": 0} for i in range(WRITERS)}
    ops = 0
    delays = []
    outcomes = {"applied": 0, "not_applied": 0, "none": 0}
    startup = workers.startup_seconds
    workers.ensure(WRITERS)
    try:
        for round_number in range(ROUNDS):
            jobs = [
                (
                    "kill_writer",
                    (
                        kwargs,
                        owner,
                        known["last_n"],
                        seed + 100 * round_number + i,
                        MAX_ROUND_SECONDS,
                    ),
                )
                for i, (owner, known) in enumerate(state.items())
            ]
            batch, start_at = workers.submit(jobs)
            delay = rng.uniform(*KILL_DELAYS)
            delays.append(round(delay, 2))
            sleep_until(start_at + delay)
            server.kill()
            results = workers.collect(batch, WRITERS, timeout=MAX_ROUND_SECONDS + 30)
            assert all(result["error"] for result in results), "a writer was not cut"
            ops += sum(sum(result["counts"].values()) for result in results)
            server.start()
            DATABASE.connect(**kwargs)
            for key, count in check_round(results, state).items():
                outcomes[key] += count
        instances = DATABASE.connection.zcard(Item._meta.keys.pks)
        assert instances > 0
    finally:
        DATABASE.close()
        server.stop()
    summary(
        "SIGKILL + AOF restart",
        started,
        seed=seed,
        rounds=ROUNDS,
        writers=WRITERS,
        kill_delays_s=delays,
        acknowledged_ops=ops,
        in_flight_applied=outcomes["applied"],
        in_flight_not_applied=outcomes["not_applied"],
        cut_between_ops=outcomes["none"],
        instances_at_end=instances,
        created=sum(known["created"] for known in state.values()),
        worker_startup_s=round(workers.startup_seconds - startup, 2),
    )
