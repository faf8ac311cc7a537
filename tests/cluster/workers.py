"""Writer and reader processes of the Redis Cluster failover and reshard tests.

Each runs in its own spawned process until a wall-clock deadline, on the cluster
whose seed nodes it is given, and reports what it did: operations acknowledged,
operations that failed (a master down, a slot moving: errors are expected while the
cluster fails over), and reads that saw something wrong (never expected).
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[2])
CITIES = ("Paris", "Lyon", "Nantes", "Lille")


def _setup(nodes: list[tuple[str, int]], durability: dict | None = None) -> Any:
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from tests.cluster.models import DATABASE

    DATABASE.connect(cluster_nodes=nodes, durability=durability)
    return DATABASE


def write_until(nodes: list[tuple[str, int]], seed: int, deadline: float, results: Any) -> None:
    """Create, update and delete Accounts of this writer until ``deadline``."""
    try:
        from redis.exceptions import RedisError

        database = _setup(nodes)
        from tests.cluster.models import Account

        rng = random.Random(seed)
        mine: list[str] = []
        done = failed = 0
        counter = 0
        while time.time() < deadline:
            counter += 1
            try:
                roll = rng.random()
                if roll < 0.5 or not mine:
                    account = Account(
                        name=f"w{seed}-{counter}",
                        city=rng.choice(CITIES),
                        score=rng.randint(0, 1000),
                    )
                    mine.append(account.pk.get())
                elif roll < 0.85:
                    account = Account(rng.choice(mine))
                    account.city.hset(rng.choice(CITIES))
                    account.score.set(rng.randint(0, 1000))
                    account.tags.sadd(f"t{rng.randint(0, 5)}")
                else:
                    pk = mine.pop(rng.randrange(len(mine)))
                    Account(pk).delete()
                done += 1
            except (RedisError, Account.DoesNotExist, OSError):
                failed += 1
                time.sleep(0.02)
        database.close()
        results.put(("write", seed, True, {"done": done, "failed": failed}))
    except BaseException:
        results.put(("write", seed, False, traceback.format_exc()))


def read_until(nodes: list[tuple[str, int]], seed: int, deadline: float, results: Any) -> None:
    """Filter and read Accounts until ``deadline``: every instance a filter returns is
    read whole, and holds the value it was found by (else ``wrong`` counts it)."""
    try:
        from redis.exceptions import RedisError

        database = _setup(nodes)
        from tests.cluster.models import Account

        rng = random.Random(seed)
        done = failed = wrong = 0
        while time.time() < deadline:
            city = rng.choice(CITIES)
            try:
                for pk in list(Account.collection(city=city))[:20]:
                    try:  # existence checked in the same call as the read
                        found = Account.lazy_connect(pk).city.hget()
                    except Account.DoesNotExist:
                        continue  # deleted since the filter ran
                    if found is None:  # an instance seen half-written
                        wrong += 1
                done += 1
            except (RedisError, OSError):
                failed += 1
                time.sleep(0.02)
        database.close()
        results.put(("read", seed, True, {"done": done, "failed": failed, "wrong": wrong}))
    except BaseException:
        results.put(("read", seed, False, traceback.format_exc()))


def create_until(
    nodes: list[tuple[str, int]], seed: int, deadline: float, results: Any, durable: bool
) -> None:
    """Create Accounts (and update their score) until ``deadline``; report every create
    the server acknowledged (``{name: pk}``) and when writes failed."""
    try:
        from redis.exceptions import RedisError

        from django_limpyd.exceptions import LimpydException

        durability = {"replicas": 1, "timeout": 0.5} if durable else None
        database = _setup(nodes, durability)
        from tests.cluster.models import Account

        acknowledged: dict[str, str] = {}
        failures: list[float] = []
        number = 0
        while time.time() < deadline:
            number += 1
            name = f"c{seed}-{number}"
            try:
                account = Account(name=name, city=CITIES[number % 4], score=number)
                acknowledged[name] = account.pk.get()
                if number % 3 == 0:
                    account.score.set(number * 2)
            except (RedisError, LimpydException, OSError):
                failures.append(time.time())
                time.sleep(0.02)
        database.close()
        results.put(("create", seed, True, {"acknowledged": acknowledged, "failures": failures}))
    except BaseException:
        results.put(("create", seed, False, traceback.format_exc()))
