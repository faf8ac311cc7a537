"""Jobs run by the worker processes (see :mod:`tests.reliability.workers`).

Each job takes the connection arguments of the server to use first, points
the models' database at it, and returns a dict of plain data.
"""

from __future__ import annotations

import random
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.reliability.models import DATABASE, Claim, Item, Person
from tests.reliability.workers import sleep_until

_connected: dict[str, Any] = {}

COLORS = ("red", "green", "blue", "black", "white")
TAGS = tuple(f"t{i}" for i in range(6))
CITIES = tuple(f"city-{i}" for i in range(10))


def connect(connection_kwargs: dict[str, Any]) -> None:
    """Point :data:`DATABASE` at ``connection_kwargs`` (reconnect only if they changed)."""
    if _connected.get("kwargs") != connection_kwargs:
        DATABASE.connect(**connection_kwargs)
        _connected["kwargs"] = dict(connection_kwargs)


# -- SIGKILL during writes -----------------------------------------------------------


def own_items(owner: str) -> dict[str, str]:
    """``{name: pk}`` of the Items of ``owner`` (found by the owner index)."""
    pks = list(Item.collection(owner=owner))
    pipe = DATABASE.connection.pipeline(transaction=False)
    for pk in pks:
        pipe.hget(Item._meta.keys.instance_hash(pk), "name")
    return dict(zip(pipe.execute(), pks, strict=True))


def kill_writer(
    connection_kwargs: dict[str, Any],
    owner: str,
    last_n: int,
    seed: int,
    max_seconds: float,
    *,
    start_at: float,
) -> dict[str, Any]:
    """Write Items of ``owner`` until the server goes away (or ``max_seconds``).

    Every operation is recorded as *in flight* before it starts and forgotten
    once it returned: when the connection is lost, ``in_flight`` is the one
    operation whose outcome is unknown. ``alive`` is what the writer knows
    for sure (acknowledged creates minus acknowledged deletes).
    """
    rng = random.Random(seed)
    alive: dict[str, str] | None = None  # None: killed before the writer started
    counts: dict[str, int] = {}
    in_flight: list[Any] | None = None
    n = last_n
    created = 0
    deadline = start_at + max_seconds
    error = None
    try:
        connect(connection_kwargs)
        DATABASE.load_scripts()  # after a restart the script cache is empty
        alive = own_items(owner)
        while time.time() < deadline:
            names = sorted(alive)
            roll = rng.random()
            if len(names) < 3 or roll < 0.2:
                op = "create"
            elif roll < 0.35:
                op = "hmset"
            elif roll < 0.45:
                op = "code"
            elif roll < 0.55:
                op = "size"
            elif roll < 0.65:
                op = "tags"
            elif roll < 0.85:
                op = "transfer"
            else:
                op = "delete"
            if op == "create":
                n += 1
                name = f"{owner}-{n}"
                color = rng.choice(COLORS)
                in_flight = ["create", name]
                item = Item(
                    owner=owner,
                    name=name,
                    color=color,
                    shade=color.upper(),
                    code=f"{name}:c0",
                    size=0,
                    balance=100,
                    tags=rng.sample(TAGS, 2),
                )
                alive[name] = item.pk.get()
                created += 1
            elif op == "delete":
                victim_name, heir_name = rng.sample(names, 2)
                victim = Item.lazy_connect(alive[victim_name])
                heir = Item.lazy_connect(alive[heir_name])
                in_flight = ["delete", victim_name]

                def bequeath(pipeline: Any, victim: Any = victim, heir: Any = heir) -> None:
                    balance = int(victim.balance.get())  # read while watching
                    pipeline.multi()
                    heir.balance.incrby(balance)
                    victim.delete()

                DATABASE.transaction(bequeath, victim.balance)
                del alive[victim_name]
            else:
                name = rng.choice(names)
                item = Item.lazy_connect(alive[name])
                in_flight = [op, name]
                if op == "hmset":
                    color = rng.choice(COLORS)
                    item.hmset(color=color, shade=color.upper())
                elif op == "code":
                    item.code.set(f"{name}:c{rng.randrange(5)}")
                elif op == "size":
                    item.size.incrby(rng.randint(1, 5))
                elif op == "tags":
                    if rng.random() < 0.5:
                        item.tags.sadd(*rng.sample(TAGS, 2))
                    else:
                        item.tags.srem(rng.choice(TAGS))
                else:  # transfer: both balances in one MULTI/EXEC
                    other = Item.lazy_connect(alive[rng.choice([x for x in names if x != name])])
                    amount = rng.randint(1, 20)
                    with DATABASE.pipeline() as pipeline:
                        item.balance.incrby(-amount)
                        other.balance.incrby(amount)
                        pipeline.execute()
            counts[op] = counts.get(op, 0) + 1
            in_flight = None
    except (RedisConnectionError, RedisTimeoutError) as exc:
        error = type(exc).__name__
    finally:
        DATABASE.close()  # the server is gone: drop the pool's connections
    return {
        "alive": alive,
        "in_flight": in_flight,
        "last_n": n,
        "created": created,
        "counts": counts,
        "error": error,
    }


# -- get_or_connect races --------------------------------------------------------------


def claim_values(
    connection_kwargs: dict[str, Any], values: list[str], step: float, *, start_at: float
) -> dict[str, Any]:
    """``Claim.get_or_connect(code=v, label=...)`` for each value, value ``k`` at
    ``start_at + k * step`` in every process: each value is a fresh race."""
    connect(connection_kwargs)
    got: dict[str, list[Any]] = {}
    for k, value in enumerate(values):
        sleep_until(start_at + k * step)
        instance, created = Claim.get_or_connect(code=value, label=f"label-{value}")
        got[value] = [instance.pk.get(), created]
    return {"got": got}


# -- load ------------------------------------------------------------------------------


def person_values(i: int) -> dict[str, Any]:
    """The values of the ``i``-th Person of the load test."""
    return {
        "email": f"person-{i}@example.com",
        "city": CITIES[i % len(CITIES)],
        "age": i % 90,
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "bio": f"Person number {i}, created by the load test.",
    }


def load_people(
    connection_kwargs: dict[str, Any], first: int, count: int, chunk: int, *, start_at: float
) -> dict[str, Any]:
    """Create Persons ``first .. first + count - 1`` with ``bulk_create`` chunks."""
    connect(connection_kwargs)
    created: dict[str, int] = {}
    for start in range(first, first + count, chunk):
        numbers = range(start, min(start + chunk, first + count))
        instances = Person.bulk_create([person_values(i) for i in numbers])
        for i, instance in zip(numbers, instances, strict=True):
            created[instance.pk.get()] = i
    return {"created": created}


JOBS = {
    "kill_writer": kill_writer,
    "claim_values": claim_values,
    "load_people": load_people,
}
