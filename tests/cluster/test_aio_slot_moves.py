"""Slot moves and failover on the async path: the async Redis Cluster client
(``django_limpyd.aio.cluster.AsyncLimpydRedisCluster``) on a private cluster of 3
masters and 3 replicas (the fixtures of tests/cluster/conftest.py).

* A slot set MIGRATING: an async indexed update runs nothing (every call declares the
  model's guard key, which never exists: TRYAGAIN before the function runs) until
  ``slot_move_wait`` ends with a clear error, and goes through once the slot is stable.
* The model's slot moved live to another master while asyncio tasks (in this process
  and in a spawned one) write and read: no write fails, no read is wrong, every
  acknowledged create is there, ``consistency_check == []``.
* The master of the model's slot SIGKILLed while asyncio tasks make durable creates:
  its replica takes over, writes resume, no acknowledged create is lost, no pk is
  given twice.

The async twins of the slot move and failover tests of tests/cluster/test_cluster.py
and tests/cluster/test_cluster_durability.py.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import pytest
import redis

from django_limpyd.aio import get_client
from django_limpyd.consistency import consistency_check
from tests.cluster import aio_workers
from tests.cluster.models import DATABASE, Account
from tests.reliability.helpers import acknowledged_outcome, summary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

#: how long the tasks run around a slot move or a failover (seconds)
RUN_SECONDS = 6.0
#: the start of a spawned process (Django set up, first connection)
STARTUP_SECONDS = 4.0


def test_an_async_write_to_a_slot_being_moved_runs_nothing_until_the_move_ends(db, cluster):
    """The async twin of test_cluster.py's: a non-unique indexed update to a value
    never seen (nothing reads the new value's index key before writing) would write
    the hash and remove the old entry, then stop at the new entry's key, missing on the
    source. The guard key makes the source answer TRYAGAIN before anything runs."""
    slot = db.connection.keyslot(Account._meta.keys.pks)
    source = cluster.master_of_slot(slot)
    target = next(node for node in cluster.masters() if node is not source)
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)

    async def main() -> tuple[str, float]:
        account = await Account.acreate(name="a", city="paris")
        pk = account.pk.get()
        client = get_client(db)
        with cluster.node_client(target) as to, cluster.node_client(source) as frm:
            keys_before = _slot_keys(frm, slot)
            to.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            frm.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            client.slot_move_wait = 0.3
            try:
                began = time.monotonic()
                with pytest.raises(redis.exceptions.ClusterError) as raised:
                    await account.city.ahset("a-city-never-seen")
                waited = time.monotonic() - began
                # nothing ran: the hash and the index entries are as they were, on the
                # source (an async read is a function declaring the guard key too: it
                # waits for the move as well, where the sync path's HGET follows ASK)
                assert frm.hget(account.city.key, "city") == "paris"
                assert frm.smembers(_index_key(account, "paris")) == {pk}
                assert _slot_keys(frm, slot) == keys_before  # no key made or removed
                with pytest.raises(redis.exceptions.ClusterError, match="being moved"):
                    await Account.lazy_connect(pk).city.ahget()
            finally:
                for node_client in (frm, to):
                    node_client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
                del client.slot_move_wait
        assert await Account.lazy_connect(pk).city.ahget() == "paris"
        assert await Account.collection(city="paris").alist() == [pk]
        assert await Account.collection(city="a-city-never-seen").alist() == []
        await account.city.ahset("a-city-never-seen")  # the slot is stable again: it runs
        assert await Account.collection(city="a-city-never-seen").alist() == [pk]
        assert await Account.collection(city="paris").alist() == []
        return str(raised.value), waited

    message, waited = asyncio.run(main())
    assert "its slot is being moved" in message and "nothing ran" in message
    assert 0.3 <= waited < 3.0
    assert consistency_check(Account) == []
    print(f"\n[aio slot move] refused after {waited:.2f} s: {message}")


def _slot_keys(node_client: Any, slot: int) -> list[str]:
    return sorted(node_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000))


def _index_key(account: Any, value: str) -> str:
    """The key of the equality index entry of ``account.city`` for ``value``."""
    (index,) = Account._meta.get_field("city").indexes
    return index.get_storage_key(value)


def _spawn(nodes: Any, prefix: str, deadline: float, results: Any, **kwargs: Any) -> Any:
    process = multiprocessing.get_context("spawn").Process(
        target=aio_workers.run_in_process,
        args=(nodes, prefix, deadline, results, kwargs.pop("writers"), kwargs.pop("readers")),
        kwargs=kwargs,
    )
    process.start()
    return process


def test_a_model_slot_moved_under_async_writers_stays_consistent(db, cluster):
    started = time.perf_counter()
    slot = db.connection.keyslot(Account._meta.keys.pks)
    source = cluster.master_of_slot(slot)
    target = next(node for node in cluster.masters() if node is not source)
    nodes = cluster.connection_kwargs()["cluster_nodes"]
    results = multiprocessing.get_context("spawn").Queue()
    deadline = time.time() + STARTUP_SECONDS + RUN_SECONDS
    process = _spawn(nodes, "p", deadline, results, writers=2, readers=1)
    moved: dict[str, float] = {}

    async def move() -> None:
        await asyncio.sleep(STARTUP_SECONDS + RUN_SECONDS / 3)
        moved["start"] = time.time()
        await asyncio.to_thread(cluster.move_slot, slot, target, 10)
        moved["end"] = time.time()

    async def main() -> dict[str, list[dict]]:
        reports, _ = await asyncio.gather(
            aio_workers.run_tasks(Account, "m", deadline, writers=4, readers=2), move()
        )
        return reports

    try:
        reports = asyncio.run(main())
        ok, other = results.get(timeout=RUN_SECONDS + 60)
        assert ok, other
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    writes = reports["write"] + other["write"]
    reads = reports["read"] + other["read"]
    DATABASE.close()  # a fresh view of the topology
    stored = {Account.lazy_connect(pk).name.hget(): pk for pk in Account.collection()}
    acknowledged = {name: pk for r in writes for name, pk in r["acknowledged"].items()}
    missing = [name for name, pk in acknowledged.items() if stored.get(name) != pk]
    problems = consistency_check(Account)
    elapsed = time.perf_counter() - started
    summary(
        "aio cluster reshard",
        started,
        moved_slot=slot,
        move_seconds=round(moved["end"] - moved["start"], 2),
        keys_moved=_keys_in_slot(cluster, target, slot),
        acknowledged=sum(r["done"] for r in writes),
        acknowledged_during_move=sum(
            moved["start"] <= moment <= moved["end"] for r in writes for moment in r["moments"]
        ),
        slowest_write_seconds=round(max(r["slowest"] for r in writes), 2),
        failed_while_disturbed=sum(r["failed"] for r in writes),
        reads=sum(r["done"] for r in reads),
        failed_reads=sum(r["failed"] for r in reads),
        wrong_reads=sum(r["wrong"] for r in reads),
        creates_kept=len(acknowledged),
        missing=len(missing),
        consistency_check=problems,
    )
    assert cluster.master_of_slot(slot) is target
    assert [error for r in writes + reads for error in r["errors"]] == []
    assert sum(r["failed"] for r in writes) == 0
    assert sum(r["wrong"] for r in reads) == 0
    assert sum(r["done"] for r in reads) > 0
    assert sum(r["done"] for r in writes) > 0
    assert missing == []
    assert problems == []
    assert elapsed < 30


def _keys_in_slot(cluster: Any, node: Any, slot: int) -> int:
    with cluster.node_client(node) as client:
        return int(client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot))


def test_a_master_killed_under_async_durable_writers(db, cluster):
    """Durable creates (``WAIT`` for the replica on the connection of the write) while
    the master of the model's slot is SIGKILLed: its replica is promoted, writes resume
    once the killed master is back as its replica, nothing acknowledged is lost.
    Restarts the killed node: keep this test last in the module."""
    started = time.perf_counter()
    durability = {"replicas": 1, "timeout": 0.5}
    DATABASE.connect(**cluster.connection_kwargs(), durability=durability)
    slot = DATABASE.connection.keyslot(Account._meta.keys.pks)
    deadline = time.time() + RUN_SECONDS + 8.0  # + the failover
    killed: list[Any] = []
    moments: dict[str, float] = {}

    def kill_and_recover() -> None:
        killed.append(cluster.kill_master_of(slot))
        moments["killed"] = time.time()
        cluster.wait_for_failover(slot)
        moments["promoted"] = time.time()
        killed[0].start()  # it comes back as a replica of the new master
        cluster.wait_until_ok()
        moments["recovered"] = time.time()

    async def disturb() -> None:
        await asyncio.sleep(RUN_SECONDS / 3)
        await asyncio.to_thread(kill_and_recover)

    async def main() -> dict[str, list[dict]]:
        await Account.objects.acount()  # topology and libraries known
        reports, _ = await asyncio.gather(
            aio_workers.run_tasks(Account, "f", deadline, writers=4, readers=0, deletes=False),
            disturb(),
        )
        return reports

    try:
        reports = asyncio.run(main())
    finally:
        if killed:
            killed[0].start()  # a no-op if it runs
    writes = reports["write"]
    DATABASE.close()
    stored = {Account.lazy_connect(pk).name.hget(): pk for pk in Account.collection()}
    problems = consistency_check(Account)
    outcome = acknowledged_outcome(writes, stored)
    resumed = sum(moment > moments["recovered"] for r in writes for moment in r["moments"])
    summary(
        "aio cluster sigkill failover (durable)",
        started,
        **outcome,
        promoted_after=round(moments["promoted"] - moments["killed"], 2),
        recovered_after=round(moments["recovered"] - moments["killed"], 2),
        writes_after_recovery=resumed,
        errors=sorted({e.split(":")[0] for r in writes for e in r["errors"]}),
        consistency_check=problems,
    )
    assert cluster.master_of_slot(slot) is not killed[0]
    assert outcome["acknowledged"] > 0 and resumed > 0
    assert outcome["lost"] == 0 and outcome["reused_pks"] == 0
    assert problems == []
    assert time.perf_counter() - started < 30
