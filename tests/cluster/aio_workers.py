"""Async writers and readers of the Redis Cluster slot move and failover tests
(tests/cluster/test_aio_slot_moves.py): asyncio tasks sending through the async cluster
client (``django_limpyd.aio.cluster.AsyncLimpydRedisCluster``) until a wall-clock
deadline, in the test's process or in a spawned one (:func:`run_in_process`).

Each writer reports the operations acknowledged and failed (with the first errors),
and the creates acknowledged and not deleted since (``{name: pk}``); each reader the
filters run and the reads that saw something wrong (never expected).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[2])
CITIES = ("Paris", "Lyon", "Nantes", "Lille")


def new_report() -> dict[str, Any]:
    return {
        "done": 0,
        "failed": 0,
        "errors": [],
        "failures": [],  # when writes failed
        "acknowledged": {},  # {name: pk} of the creates acknowledged and not deleted
        "moments": [],  # when writes were acknowledged
        "slowest": 0.0,  # the longest acknowledged operation (seconds)
    }


async def write_until(
    model: type, name: str, deadline: float, report: dict[str, Any], deletes: bool = True
) -> None:
    """Create, update (and with ``deletes``, delete) instances of ``model`` named
    ``name-N`` until ``deadline``."""
    from redis.exceptions import RedisError

    from django_limpyd.exceptions import LimpydException

    rng = random.Random(name)
    mine: list[str] = []
    counter = 0
    while time.time() < deadline:
        counter += 1
        began = time.monotonic()
        try:
            roll = rng.random()
            if roll < 0.5 or not mine:
                label = f"{name}-{counter}"
                account = await model.acreate(
                    name=label, city=rng.choice(CITIES), score=rng.randint(0, 1000)
                )
                pk = account.pk.get()
                report["acknowledged"][label] = pk
                mine.append(pk)
            elif roll < 0.85 or not deletes:
                account = model.lazy_connect(rng.choice(mine))
                await account.city.ahset(rng.choice(CITIES))
                await account.score.aset(rng.randint(0, 1000))
                await account.tags.asadd(f"t{rng.randint(0, 5)}")
            else:
                pk = mine.pop(rng.randrange(len(mine)))
                account = model.lazy_connect(pk)
                label = await account.name.ahget()
                report["acknowledged"].pop(label, None)  # no longer claimed, then deleted
                await account.adelete()
            report["done"] += 1
            report["moments"].append(time.time())
            report["slowest"] = max(report["slowest"], time.monotonic() - began)
        except (RedisError, LimpydException, OSError) as error:
            report["failed"] += 1
            report["failures"].append(time.time())
            if len(report["errors"]) < 3:
                report["errors"].append(f"{type(error).__name__}: {error}")
            await asyncio.sleep(0.02)


async def read_until(model: type, seed: int, deadline: float, report: dict[str, Any]) -> None:
    """Filter and read ``model`` instances until ``deadline``: every instance a filter
    returns is read, and holds a city (``wrong`` counts the others)."""
    from redis.exceptions import RedisError

    rng = random.Random(seed)
    report.setdefault("wrong", 0)
    while time.time() < deadline:
        city = rng.choice(CITIES)
        try:
            for pk in (await model.collection(city=city).alist())[:20]:
                try:  # existence checked in the same call as the read
                    found = await model.lazy_connect(pk).city.ahget()
                except model.DoesNotExist:
                    continue  # deleted since the filter ran
                if found is None:  # an instance seen half-written
                    report["wrong"] += 1
            report["done"] += 1
        except (RedisError, OSError) as error:
            report["failed"] += 1
            if len(report["errors"]) < 3:
                report["errors"].append(f"{type(error).__name__}: {error}")
            await asyncio.sleep(0.02)


async def run_tasks(
    model: type, prefix: str, deadline: float, writers: int, readers: int, deletes: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """``writers`` writing and ``readers`` reading tasks until ``deadline``."""
    writes = [new_report() for _ in range(writers)]
    reads = [new_report() for _ in range(readers)]
    await asyncio.gather(
        *(
            write_until(model, f"{prefix}w{number}", deadline, report, deletes)
            for number, report in enumerate(writes)
        ),
        *(read_until(model, 100 + number, deadline, report) for number, report in enumerate(reads)),
    )
    return {"write": writes, "read": reads}


def run_in_process(
    nodes: list[tuple[str, int]],
    prefix: str,
    deadline: float,
    results: Any,
    writers: int,
    readers: int,
    durability: dict | None = None,
    deletes: bool = True,
) -> None:
    """:func:`run_tasks` in a spawned process, on the cluster of ``nodes``; puts
    ``(ok, reports or traceback)`` on ``results``."""
    try:
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from tests.cluster.models import DATABASE, Account

        DATABASE.connect(cluster_nodes=nodes, durability=durability)
        reports = asyncio.run(run_tasks(Account, prefix, deadline, writers, readers, deletes))
        DATABASE.close()
        results.put((True, reports))
    except BaseException:
        results.put((False, traceback.format_exc()))
